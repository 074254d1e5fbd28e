//! Access Tokens tabs: the token list, the create dialog, the one-time copy
//! dialog, status buttons and recent activity — one panel for personal,
//! organization and group tokens, told apart by its `TokenScope`.

use super::profile::profile_tabs;
use super::with_user;
use crate::access::IDENTITY_READ;
use crate::components::{
    action_error, format_date, format_datetime, format_iso, format_timestamp, loading,
    DialogCancel, DialogLink, ErrorView, Field, FormAlert, TabErrorView,
};
use crate::domain::{ExpiryChoice, Role};
use crate::error::AppError;
use crate::scopes::api::token_grant_options;
use crate::scopes::ScopeInfo;
use crate::tokens::api::{
    list_token_activity, list_tokens, CreateToken, DeleteToken, RevokeAllTokens, SetTokenEnabled,
};
use crate::tokens::{
    relative_time, ApprovalState, TokenList, TokenScope, TokenStatus, TokenSummary,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ProfileTokensPage() -> impl IntoView {
    view! {
        <Title text="Your access tokens"/>
        {with_user(|user| view! {
            <header class="page-head">
                <p class="eyebrow">"Profile"</p>
                <h1>{user.display_name}</h1>
            </header>
            {profile_tabs()}
        })}
        // Outside `with_user`, so its resources are made once (see `OrgLayout`).
        <TokensPanel scope=TokenScope::Personal/>
    }
}

/// A token's state; an active token of a kind the organization turned off
/// is refused, so it does not show as active.
fn status_badge(status: TokenStatus, turned_off: bool) -> impl IntoView {
    let (class, label) = match status {
        TokenStatus::Active if turned_off => ("badge badge-warning", "Turned off"),
        TokenStatus::Active => ("badge badge-success", status.label()),
        TokenStatus::Revoked => ("badge badge-muted", status.label()),
        TokenStatus::Expired => ("badge badge-danger", status.label()),
    };
    view! { <span class=class>{label}</span> }
}

/// The hidden fields that tell a server function which tokens are meant.
fn scope_fields(scope: &TokenScope) -> impl IntoView {
    view! {
        <input type="hidden" name="org" value=scope.org_field()/>
        <input type="hidden" name="group" value=scope.group_field()/>
    }
}

/// Words that differ between personal tokens and organization or group
/// tokens. Turning a token off is "revoke" and back on "reactivate" for every
/// kind, as in the API, the audit trail and RFC 7009.
struct Wording {
    title: &'static str,
    intro: &'static str,
    empty: &'static str,
    caption: &'static str,
}

const REVOKE: &str = "Revoke";
const REACTIVATE: &str = "Reactivate";

fn wording(scope: &TokenScope) -> Wording {
    match scope {
        TokenScope::Personal => Wording {
            title: "Personal access tokens",
            intro: "Scripts, CI jobs and other apps use a token to call the Latchkey API as you, with your current permissions. Create one per integration so you can revoke it on its own.",
            empty: "You have no access tokens yet.",
            caption: "Your personal access tokens, newest first",
        },
        TokenScope::Organization { .. } => Wording {
            title: "Organization access tokens",
            intro: "An organization token acts as its own technical user with the organization role you give it (admin or user), for integrations that work for the whole organization. It keeps working when the person who created it leaves.",
            empty: "This organization has no access tokens yet.",
            caption: "Organization access tokens, newest first",
        },
        TokenScope::Group { .. } => Wording {
            title: "Group access tokens",
            intro: "A group token acts as its own technical user with the group role you give it (admin or user), in this group only.",
            empty: "This group has no access tokens yet.",
            caption: "Group access tokens, newest first",
        },
    }
}

#[component]
pub fn TokensPanel(scope: TokenScope) -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let set_enabled = ServerAction::<SetTokenEnabled>::new();
    let delete = ServerAction::<DeleteToken>::new();
    let revoke_all = ServerAction::<RevokeAllTokens>::new();
    let (org, group) = (scope.org_field(), scope.group_field());
    let tokens = Resource::new(|| (), {
        let (org, group) = (org.clone(), group.clone());
        move |_| list_tokens(org.clone(), group.clone())
    });
    let activity = Resource::new(
        || (),
        move |_| list_token_activity(org.clone(), group.clone()),
    );
    let page = scope.page();
    let row_error = Signal::derive(move || {
        action_error(set_enabled)
            .get()
            .or_else(|| action_error(delete).get())
            .or_else(|| action_error(revoke_all).get())
    });

    let table_scope = scope.clone();
    view! {
        // First, so that as a page state (`?new`, or a refused post coming
        // back) the form and its errors are what the page opens on.
        <CreateTokenDialog action=create scope=scope.clone() tokens/>

        // One message and nothing else for someone who may not see these
        // tokens; the list, the create button and the activity otherwise.
        <Transition fallback=loading>
            {move || {
                let scope = table_scope.clone();
                let page = page.clone();
                Suspend::new(async move {
                    let list = match tokens.await {
                        Ok(list) => list,
                        Err(error) if scope.is_personal() => return view! { <ErrorView error/> }.into_any(),
                        Err(error) => return view! { <TabErrorView error/> }.into_any(),
                    };
                    let words = wording(&scope);
                    let active = list.tokens.iter().filter(|t| t.status == TokenStatus::Active).count();
                    let leaked = list.tokens.iter().filter(|t| t.leaked_at.is_some()).count();
                    let turned_off = list.turned_off.is_some();
                    let settings = match &scope {
                        TokenScope::Organization { org } => Some(format!("/orgs/{org}/settings")),
                        _ => None,
                    };
                    view! {
                        <section class="card">
                            <div class="card-head">
                                <h2>{words.title}</h2>
                                {(!turned_off).then(|| view! {
                                    <DialogLink dialog="create-token".to_string() href=format!("{page}?new#create-token")
                                        class="btn btn-primary".to_string() label="Create a new access token".to_string()/>
                                })}
                            </div>
                            <p class="muted">{words.intro}</p>
                            {list.turned_off.map(|reason| view! {
                                <p class="alert alert-warning" role="status">
                                    <strong>"Turned off. "</strong>
                                    {reason}
                                    " Until then these tokens are refused and no new ones can be created."
                                    {settings.map(|href| view! { " " <a href=href>"Open Settings"</a> })}
                                </p>
                            })}
                            <FormAlert error=row_error/>
                            {(leaked > 0).then(|| view! {
                                <p class="alert alert-error" role="alert">
                                    {if leaked == 1 {
                                        "1 token was found in public by a secret scanner and revoked.".to_string()
                                    } else {
                                        format!("{leaked} tokens were found in public by a secret scanner and revoked.")
                                    }}
                                    " A leaked secret is public, so these cannot be reactivated: delete them, create new ones, and remove the old secrets from wherever they were published."
                                </p>
                            })}
                            {if list.tokens.is_empty() {
                                view! { <p class="empty-note">{words.empty}</p> }.into_any()
                            } else {
                                view! {
                                    <TokenTable list=list.tokens now=list.now scope=scope.clone() turned_off set_enabled delete/>
                                    {(active > 0).then(|| view! { <RevokeAll action=revoke_all scope active/> })}
                                }.into_any()
                            }}
                        </section>
                    }.into_any()
                })
            }}
        </Transition>


        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let events = match activity.await {
                    Ok(events) => events,
                    // The list above says why.
                    Err(_) => return ().into_any(),
                };
                view! {
                    <section class="card">
                        <h2>"Recent activity"</h2>
                        {if events.is_empty() {
                            view! { <p class="muted">"Nothing yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="activity">
                                    {events.into_iter().map(|e| view! {
                                        <li>
                                            <span>{e.describe()}</span>
                                            <span class="muted">
                                                <time datetime=format_iso(e.at)>{format_timestamp(e.at)}</time>
                                                {(!e.actor.is_empty()).then(|| format!(" · by {}", e.actor))}
                                                {e.ip.clone().map(|ip| format!(" · from {ip}"))}
                                            </span>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
fn TokenTable(
    list: Vec<TokenSummary>,
    now: i64,
    scope: TokenScope,
    /// The organization turned this kind of token off: active ones are refused.
    turned_off: bool,
    set_enabled: ServerAction<SetTokenEnabled>,
    delete: ServerAction<DeleteToken>,
) -> impl IntoView {
    let words = wording(&scope);
    let shared = !scope.is_personal();
    view! {
        <div class="table-wrap">
            <table>
                <caption class="visually-hidden">{words.caption}</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Token"</th>
                        {shared.then(|| view! { <th scope="col">"Role"</th><th scope="col">"Created by"</th> })}
                        <th scope="col">"Created"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|t| {
                        let id = t.id.to_string();
                        let (id_again, name) = (id.clone(), t.name.clone());
                        let confirm = format!("Delete token \u{201c}{}\u{201d}", t.name);
                        let toggle = match t.status {
                            TokenStatus::Active => Some(("false", REVOKE)),
                            // A leaked secret is public: no way back, only delete.
                            TokenStatus::Revoked if t.leaked_at.is_some() => None,
                            TokenStatus::Revoked => Some(("true", REACTIVATE)),
                            TokenStatus::Expired => None,
                        };
                        let role = match (t.role, &scope) {
                            (Some(Role::Admin), TokenScope::Group { .. }) => "Group admin",
                            (Some(_), TokenScope::Group { .. }) => "Group user",
                            (Some(Role::Admin), _) => "Organization admin",
                            _ => "Organization user",
                        };
                        // A token made through the API by another token names that
                        // token, which its technical user's name may no longer do.
                        let created_by = match (&t.created_by_token, &t.created_by) {
                            (Some(token), _) => format!("token \u{201c}{token}\u{201d}"),
                            (None, Some(person)) => person.clone(),
                            (None, None) => "a removed account".into(),
                        };
                        let scope = scope.clone();
                        let scope_again = scope.clone();
                        view! {
                            <tr>
                                <th scope="row">
                                    {t.name.clone()}
                                    <ul class="scope-chips" aria-label="Scopes">
                                        {t.scopes.iter().map(|scope| view! { <li><code>{scope.clone()}</code></li> }).collect_view()}
                                    </ul>
                                    {t.acts_in.clone().map(|orgs| view! {
                                        <span class="muted small">{if orgs.is_empty() {
                                            "Acts in no organization".to_string()
                                        } else {
                                            format!("Acts in {}", orgs.join(", "))
                                        }}</span>
                                    })}
                                    {t.approvals.iter().map(|approval| {
                                        let (text, class) = match approval.state {
                                            ApprovalState::Pending => ("Awaiting approval in", "small pending"),
                                            ApprovalState::Approved => ("Approved in", "muted small"),
                                            ApprovalState::Denied => ("Denied in", "small refused"),
                                        };
                                        view! { <span class=class>{format!("{text} {}", approval.org)}</span> }
                                    }).collect_view()}
                                    {(!t.allowed_ips.is_empty()).then(|| view! {
                                        <span class="muted small">{format!("Only from {}", t.allowed_ips.join(", "))}</span>
                                    })}
                                </th>
                                <td><code>{t.hint.clone()}</code></td>
                                {shared.then(|| view! { <td>{role}</td><td>{created_by}</td> })}
                                <td>{format_date(t.created_at)}</td>
                                <td>
                                    {match t.expires_at {
                                        Some(at) => view! { <time title=format_datetime(at)>{relative_time(at, now)}</time> <span class="muted small">{format_datetime(at)}</span> }.into_any(),
                                        None => view! { <span>"Never"</span> }.into_any(),
                                    }}
                                </td>
                                <td>
                                    {match t.last_used_at {
                                        Some(at) => view! {
                                            <time title=format_datetime(at)>{relative_time(at, now)}</time>
                                            <span class="muted small">{t.last_used_ip.clone().map(|ip| format!("from {ip}"))}</span>
                                        }.into_any(),
                                        None => view! { <span class="muted">"Never used"</span> }.into_any(),
                                    }}
                                    {t.last_refused_at.map(|at| view! {
                                        <span class="small refused" title=format_datetime(at)>
                                            {format!(
                                                "Refused {} from {}",
                                                relative_time(at, now),
                                                t.last_refused_ip.clone().unwrap_or_else(|| "an unknown address".into())
                                            )}
                                        </span>
                                    })}
                                </td>
                                <td>
                                    {status_badge(t.status, turned_off)}
                                    {t.leaked_at.map(|at| view! {
                                        <span class="badge badge-danger" title=format!("Reported {}", format_datetime(at))>"Leaked"</span>
                                    })}
                                    {t.replaced_by.is_some().then(|| view! { <span class="badge badge-muted">"Rotated"</span> })}
                                </td>
                                <td class="actions">
                                    <div class="row-actions">
                                        {toggle.map(|(enabled, label)| {
                                            let name = name.clone();
                                            let id = id.clone();
                                            view! {
                                                <ActionForm action=set_enabled>
                                                    {scope_fields(&scope)}
                                                    <input type="hidden" name="token_id" value=id/>
                                                    <input type="hidden" name="enabled" value=enabled/>
                                                    <button type="submit" class="btn btn-small">{label}<span class="visually-hidden">" " {name}</span></button>
                                                </ActionForm>
                                            }
                                        })}
                                        <details class="confirm">
                                            <summary class="btn btn-small btn-danger-ghost">"Delete"<span class="visually-hidden">" " {t.name.clone()}</span></summary>
                                            <div class="confirm-panel">
                                                <p>{format!("{confirm}? Integrations using it stop working at once. This cannot be undone.")}</p>
                                                <ActionForm action=delete>
                                                    {scope_fields(&scope_again)}
                                                    <input type="hidden" name="token_id" value=id_again/>
                                                    <button type="submit" class="btn btn-small btn-danger">{confirm.clone()}</button>
                                                </ActionForm>
                                            </div>
                                        </details>
                                    </div>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn RevokeAll(
    action: ServerAction<RevokeAllTokens>,
    scope: TokenScope,
    active: usize,
) -> impl IntoView {
    let label = format!(
        "Revoke all {active} active token{}",
        if active == 1 { "" } else { "s" }
    );
    let whose = match scope {
        TokenScope::Personal => "one of your tokens",
        TokenScope::Organization { .. } => "one of this organization's tokens",
        TokenScope::Group { .. } => "one of this group's tokens",
    };
    view! {
        <details class="confirm revoke-all">
            <summary class="btn btn-danger-ghost">"Revoke all"</summary>
            <div class="confirm-panel">
                <p>{format!("Every integration using {whose} stops working until its token is reactivated.")}</p>
                <ActionForm action>
                    {scope_fields(&scope)}
                    <button type="submit" class="btn btn-small btn-danger">{label}</button>
                </ActionForm>
            </div>
        </details>
    }
}

#[component]
fn CreateTokenDialog(
    action: ServerAction<CreateToken>,
    scope: TokenScope,
    /// The list, which carries the expiry rules for new tokens here.
    tokens: Resource<Result<TokenList, AppError>>,
) -> impl IntoView {
    let query = use_query_map();
    let error = action_error(action);
    // The dialog is a page state: ?new opens it, and a failed post comes
    // back to that address with its error. Once the page is live,
    // `DialogLink` opens it as a modal instead.
    let open_as_page =
        query.read_untracked().get("new").is_some() || error.get_untracked().is_some();
    let page = scope.page();
    let admin_ticked = error
        .get_untracked()
        .and_then(|e| e.echoed("admin"))
        .is_some_and(|v| v == "on");
    let admin_label = match scope {
        TokenScope::Group { .. } => Some("Assign the group admin role"),
        TokenScope::Organization { .. } => Some("Assign the organization admin role"),
        TokenScope::Personal => None,
    };
    let chosen = move || {
        error
            .get()
            .and_then(|e| e.echoed("expiry"))
            .unwrap_or_else(|| "30d".into())
    };
    let expiry_message = move || error.get().and_then(|e| e.field_message("expiry"));
    view! {
        <dialog id="create-token" class="dialog" aria-labelledby="create-token-title" open=open_as_page>
            <h2 id="create-token-title">"Create a new access token"</h2>
            <ActionForm action>
                {scope_fields(&scope)}
                <FormAlert error/>
                <Field id="token-name" name="name" label="Name" maxlength=100
                    hint="What the token is for, such as \u{201c}CI deploy\u{201d} or \u{201c}Zapier\u{201d}." error/>
                <div class="field" class:field-invalid=move || expiry_message().is_some()>
                    <label for="token-expiry">"Expires"</label>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            // When tokens are turned off here, the refusal shows on submit.
                            let policy = tokens.await.ok().and_then(|list| list.policy);
                            view! {
                                <select id="token-expiry" name="expiry"
                                    aria-invalid=move || expiry_message().is_some().then_some("true")
                                    aria-describedby="token-expiry-error">
                                    {ExpiryChoice::PRESETS.iter()
                                        .filter(|(value, _)| policy.is_none_or(|p| p.offers(value)))
                                        .map(|(value, label)| view! {
                                            <option value=*value selected=move || chosen() == *value>{*label}</option>
                                        })
                                        .collect_view()}
                                </select>
                                {policy.and_then(|p| p.max_lifetime_days).map(|days| view! {
                                    <p class="field-hint">{format!("This server allows tokens to live at most {days} days.")}</p>
                                })}
                            }
                        })}
                    </Suspense>
                    <p class="field-error" id="token-expiry-error" role="alert">{expiry_message}</p>
                </div>
                <Field id="token-custom-expiry" name="custom_expiry" label="Custom expiry (UTC)" kind="datetime-local"
                    required=false hint="Used when \u{201c}Custom date and time\u{201d} is chosen." error/>
                {admin_label.map(|label| view! {
                    <div class="field field-check">
                        <input id="token-admin" type="checkbox" name="admin" checked=admin_ticked/>
                        <label for="token-admin">{label}</label>
                        <p class="field-hint">"Without it the token gets the user role: it can read, not manage."</p>
                    </div>
                })}
                <GrantFields scope=scope.clone() error/>
                <div class="dialog-actions">
                    <DialogCancel dialog="create-token".to_string() href=page/>
                    <button type="submit" class="btn btn-primary">"Create token"</button>
                </div>
            </ActionForm>
        </dialog>
    }
}

/// What the new token may do: its scopes, grouped as Latchkey's own API and
/// the services that introspect tokens; for a personal token the
/// organizations it acts in; and the addresses it may be used from.
#[component]
fn GrantFields(scope: TokenScope, error: Signal<Option<AppError>>) -> impl IntoView {
    let options = Resource::new(|| (), {
        let (org, group) = (scope.org_field(), scope.group_field());
        move |_| token_grant_options(org.clone(), group.clone())
    });
    // After a refused submission, what was ticked and typed comes back.
    let echoed = move |name: &str| error.get_untracked().and_then(|e| e.echoed(name));
    let ticked_scopes: Vec<String> = echoed("scopes")
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_else(|| vec![IDENTITY_READ.to_string()]);
    let restricted = echoed("acts").is_some_and(|v| v == "some");
    let ticked_orgs: Vec<String> = echoed("acts_in")
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let typed_ips = echoed("allowed_ips").unwrap_or_default();
    let message =
        move |field: &'static str| move || error.get().and_then(|e| e.field_message(field));
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let (ticked_scopes, ticked_orgs) = (ticked_scopes.clone(), ticked_orgs.clone());
                Suspend::new(async move {
                    let Ok(options) = options.await else {
                        return ().into_any();
                    };
                    let checkbox = move |scope: ScopeInfo, ticked: bool| {
                        let id = format!("scope-{}", scope.name.replace([':', '.'], "-"));
                        view! {
                            <div class="field field-check">
                                <input id=id.clone() type="checkbox" name="scopes[]" value=scope.name.clone() checked=ticked/>
                                <label for=id><code>{scope.name}</code>" " <span class="muted">{scope.description}</span></label>
                            </div>
                        }
                    };
                    let is_ticked = move |name: &str| ticked_scopes.iter().any(|t| t == name);
                    let custom_empty = options.custom.is_empty();
                    view! {
                        <fieldset class="field" class:field-invalid=move || message("scopes")().is_some()
                            aria-describedby="token-scopes-error">
                            <legend>"Scopes"</legend>
                            <p class="field-hint">"What the token may do. Give it only what its integration needs."</p>
                            <p class="fieldset-head">"Latchkey API"</p>
                            {options.built_in.into_iter().map(|scope| {
                                let ticked = is_ticked(&scope.name);
                                checkbox(scope, ticked)
                            }).collect_view()}
                            <p class="fieldset-head">"Services"</p>
                            {custom_empty.then(|| view! {
                                <p class="field-hint">"No service scopes are defined on this server."</p>
                            })}
                            {options.custom.into_iter().map(|scope| {
                                let ticked = is_ticked(&scope.name);
                                checkbox(scope, ticked)
                            }).collect_view()}
                            <p class="field-error" id="token-scopes-error" role="alert">{message("scopes")}</p>
                        </fieldset>
                        {(!options.organizations.is_empty()).then(|| view! {
                            <fieldset class="field" class:field-invalid=move || message("acts_in")().is_some()
                                aria-describedby="token-acts-error">
                                <legend>"Acts in"</legend>
                                <div class="field field-check">
                                    <input id="token-acts-all" type="radio" name="acts" value="all" checked=!restricted/>
                                    <label for="token-acts-all">"All my organizations"</label>
                                </div>
                                <div class="field field-check">
                                    <input id="token-acts-some" type="radio" name="acts" value="some" checked=restricted/>
                                    <label for="token-acts-some">"Only these:"</label>
                                </div>
                                <div class="nested-choices">
                                    {options.organizations.into_iter().map(|(slug, name)| {
                                        let id = format!("token-acts-in-{slug}");
                                        let ticked = ticked_orgs.contains(&slug);
                                        view! {
                                            <div class="field field-check">
                                                <input id=id.clone() type="checkbox" name="acts_in[]" value=slug checked=ticked/>
                                                <label for=id>{name}</label>
                                            </div>
                                        }
                                    }).collect_view()}
                                </div>
                                <p class="field-hint">"Elsewhere the token acts as if you were not a member. Joining an organization later does not add it."</p>
                                <p class="field-error" id="token-acts-error" role="alert">{message("acts_in")}</p>
                            </fieldset>
                        })}
                    }.into_any()
                })
            }}
        </Suspense>
        <div class="field" class:field-invalid=move || message("allowed_ips")().is_some()>
            <label for="token-allowed-ips">"Allowed addresses"</label>
            <textarea id="token-allowed-ips" name="allowed_ips" rows="2" maxlength="800"
                aria-describedby="token-allowed-ips-hint token-allowed-ips-error"
                aria-invalid=move || message("allowed_ips")().is_some().then_some("true")>{typed_ips}</textarea>
            <p class="field-hint" id="token-allowed-ips-hint">"Optional: up to 10 IPv4 or IPv6 addresses or networks, such as 203.0.113.7 or 10.0.0.0/8. From anywhere else the token is refused. Empty: any address."</p>
            <p class="field-error" id="token-allowed-ips-error" role="alert">{message("allowed_ips")}</p>
        </div>
    }
}
