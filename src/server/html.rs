//! The few pages served as plain HTML, outside the Leptos app: they must
//! work without JavaScript and carry no app state (the one-time secret page,
//! the OAuth consent page).

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title} · Latchkey</title>
<link rel="stylesheet" href="/pkg/latchkey.css">
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
