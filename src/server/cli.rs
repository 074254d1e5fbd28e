//! The command line: serve, migrate, create users and organizations, load a demo.

use super::audit::Actor;
use super::config::{Cli, Command, Config, OrgCommand, UserCommand};
use super::db::Db;
use super::startup;
use crate::auth::server::{create_user, set_user_disabled};
use crate::domain::{DisplayName, Email, Password, Role};
use crate::error::AppError;
use crate::orgs::server::{create_org, insert_group};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

pub async fn run(cli: Cli) -> ExitCode {
    init_tracing(&cli.config);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Migrate => connect(&cli.config)
            .await
            .map(|_| println!("Migrations applied.")),
        Command::User(UserCommand::Create {
            email,
            display_name,
            instance_admin,
        }) => user_create(&cli.config, &email, &display_name, instance_admin).await,
        Command::User(UserCommand::Disable { email }) => {
            user_set_disabled(&cli.config, &email, true).await
        }
        Command::User(UserCommand::Enable { email }) => {
            user_set_disabled(&cli.config, &email, false).await
        }
        Command::Org(OrgCommand::Create { name, slug, admin }) => {
            org_create(&cli.config, &name, slug.as_deref().unwrap_or(""), &admin).await
        }
        Command::Demo => demo(&cli.config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("latchkey: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn connect(config: &Config) -> Result<Db, String> {
    let state = startup::prepare(config.clone())
        .await
        .map_err(|e| e.to_string())?;
    Ok(state.db.clone())
}

async fn serve(config: Config) -> Result<(), String> {
    let addr = config.addr;
    let state = startup::prepare(config).await.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, backend = ?state.db.backend, "Latchkey is listening on http://{addr}");
    startup::serve(listener, state)
        .await
        .map_err(|e| e.to_string())
}

fn describe(err: AppError) -> String {
    match err {
        AppError::Invalid { field, message, .. } => format!("{field}: {message}"),
        other => other.to_string(),
    }
}

fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the two passwords do not match".into());
        }
        Ok(first)
    } else {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| e.to_string())?;
        Ok(input.trim_end_matches(['\r', '\n']).to_string())
    }
}

async fn user_set_disabled(config: &Config, email: &str, disabled: bool) -> Result<(), String> {
    let email = Email::parse(email).map_err(describe)?;
    let db = connect(config).await?;
    set_user_disabled(&db, &Actor::system("command line"), &email, disabled)
        .await
        .map_err(describe)?;
    println!("{} {email}.", if disabled { "Disabled" } else { "Enabled" });
    Ok(())
}

async fn user_create(
    config: &Config,
    email: &str,
    name: &str,
    instance_admin: bool,
) -> Result<(), String> {
    let email = Email::parse(email).map_err(describe)?;
    let name = DisplayName::parse(name).map_err(describe)?;
    let password = Password::parse_new(&read_password()?).map_err(describe)?;
    let db = connect(config).await?;
    let id = create_user(
        &db,
        &Actor::system("command line"),
        &email,
        &name,
        password,
        instance_admin,
    )
    .await
    .map_err(describe)?;
    println!(
        "Created user {email} (id {id}){}.",
        if instance_admin {
            " as instance admin"
        } else {
            ""
        }
    );
    Ok(())
}

async fn user_id_by_email(db: &Db, email: &Email) -> Result<Option<i64>, String> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM users WHERE email = $1 AND kind = 'human'")
            .bind(email.as_str())
            .fetch_optional(&db.pool)
            .await
            .map_err(|e| e.to_string())?;
    Ok(row.map(|(id,)| id))
}

async fn org_create(config: &Config, name: &str, slug: &str, admin: &str) -> Result<(), String> {
    let admin = Email::parse(admin).map_err(describe)?;
    let db = connect(config).await?;
    let admin_id = user_id_by_email(&db, &admin).await?.ok_or_else(|| {
        format!("no user has the email {admin}; create it with `latchkey user create` first")
    })?;
    let slug = create_org(&db, &Actor::system("command line"), name, slug, admin_id)
        .await
        .map_err(describe)?;
    println!("Created organization {slug} with {admin} as admin.");
    Ok(())
}

/// The demo data set: one organization, two groups, a person in every role.
const DEMO_PASSWORD: &str = "latchkey-demo-password";
const DEMO_USERS: &[(&str, &str, &str, bool)] = &[
    // email, display name, what they are, instance admin
    (
        "admin@acme.test",
        "Ada Admin",
        "instance admin and Acme organization admin",
        true,
    ),
    (
        "olivia@acme.test",
        "Olivia Orgadmin",
        "Acme organization admin",
        false,
    ),
    (
        "gary@acme.test",
        "Gary Groupadmin",
        "Acme member, admin of group Platform",
        false,
    ),
    (
        "uma@acme.test",
        "Uma User",
        "Acme member, user in groups Platform and Data",
        false,
    ),
    (
        "nora@acme.test",
        "Nora Nogroup",
        "Acme member in no group",
        false,
    ),
];

async fn demo(config: &Config) -> Result<(), String> {
    let db = connect(config).await?;
    let actor = Actor::system("demo loader");
    if user_id_by_email(&db, &Email::parse(DEMO_USERS[0].0).map_err(describe)?)
        .await?
        .is_some()
    {
        return Err("the demo data is already loaded".into());
    }
    let mut ids = Vec::new();
    for (email, name, _, admin) in DEMO_USERS {
        let email = Email::parse(email).map_err(describe)?;
        let name = DisplayName::parse(name).map_err(describe)?;
        let password = Password::parse_new(DEMO_PASSWORD).map_err(describe)?;
        ids.push(
            create_user(&db, &actor, &email, &name, password, *admin)
                .await
                .map_err(describe)?,
        );
    }
    let slug = create_org(&db, &actor, "Acme", "acme", ids[0])
        .await
        .map_err(describe)?;
    let (org_id,): (i64,) = sqlx::query_as("SELECT id FROM organizations WHERE slug = $1")
        .bind(slug.as_str())
        .fetch_one(&db.pool)
        .await
        .map_err(|e| e.to_string())?;
    let (platform, _) = insert_group(&db, &actor, org_id, "Platform", "platform")
        .await
        .map_err(describe)?;
    let (data, _) = insert_group(&db, &actor, org_id, "Data", "data")
        .await
        .map_err(describe)?;
    let org_roles = [
        (ids[1], Role::Admin),
        (ids[2], Role::User),
        (ids[3], Role::User),
        (ids[4], Role::User),
    ];
    let group_roles = [
        (platform, ids[2], Role::Admin),
        (platform, ids[3], Role::User),
        (data, ids[3], Role::User),
    ];
    let now = super::db::now();
    for (user_id, role) in org_roles {
        sqlx::query("INSERT INTO org_memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(org_id)
            .bind(user_id)
            .bind(role.as_str())
            .bind(now)
            .execute(&db.pool)
            .await
            .map_err(|e| e.to_string())?;
    }
    for (group_id, user_id, role) in group_roles {
        sqlx::query("INSERT INTO group_memberships (group_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(group_id)
            .bind(user_id)
            .bind(role.as_str())
            .bind(now)
            .execute(&db.pool)
            .await
            .map_err(|e| e.to_string())?;
    }
    println!("Demo organization \"Acme\" loaded (groups Platform and Data).");
    println!("Every demo account's password is: {DEMO_PASSWORD}");
    for (email, _, what, _) in DEMO_USERS {
        println!("  {email:<20} {what}");
    }
    Ok(())
}
