//! The few pages served as plain HTML, outside the Leptos app: they must
//! work without JavaScript and carry no app state (the OAuth consent page).

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The hashes cargo-leptos put in the asset names (`kind: hash` lines in the
/// `hash.txt` beside the binary), if it did.
pub fn hash_file() -> Option<String> {
    let path = std::env::current_exe().ok()?.parent()?.join("hash.txt");
    std::fs::read_to_string(path).ok()
}

/// The stylesheet's address, with its hash when the build added one.
fn stylesheet_href() -> &'static str {
    static HREF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HREF.get_or_init(|| {
        let hash = hash_file().and_then(|hashes| {
            hashes.lines().find_map(|line| {
                let (kind, hash) = line.trim().split_once(':')?;
                (kind == "css").then(|| hash.trim().to_string())
            })
        });
        match hash {
            Some(hash) => format!("/pkg/latchkey.{hash}.css"),
            None => "/pkg/latchkey.css".to_string(),
        }
    })
}

pub fn page(title: &str, body: &str) -> String {
    let stylesheet = stylesheet_href();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title} · Latchkey</title>
<link rel="stylesheet" href="{stylesheet}">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
</head>
<body>
<main id="main">
{body}
</main>
</body>
</html>"#
    )
}
