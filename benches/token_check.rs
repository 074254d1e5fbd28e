//! The CPU side of a token check: what every API request pays before (or
//! instead of) a database read. Run with `cargo bench --features ssr`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use latchkey::tokens::cache::AuthCache;
use latchkey::tokens::secret::{PlainToken, TokenKind};
use latchkey::tokens::server::TokenIdentity;
use std::sync::Arc;

fn identity(token_id: i64) -> Arc<TokenIdentity> {
    Arc::new(TokenIdentity {
        token_id,
        token_name: format!("token {token_id}"),
        kind: TokenKind::Personal,
        user_id: 1,
        display_name: "Bench".into(),
        email: Some("bench@example.com".into()),
        user_kind: "human".into(),
        ..Default::default()
    })
}

fn token_check(c: &mut Criterion) {
    let token = PlainToken::generate(TokenKind::Personal);
    let valid = token.expose_secret().to_string();
    let mut mistyped = valid.clone();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'a' { 'b' } else { 'a' });

    c.bench_function("parse valid token", |b| {
        b.iter(|| PlainToken::parse(black_box(&valid)).is_ok())
    });
    c.bench_function("parse mistyped token (checksum refuses)", |b| {
        b.iter(|| PlainToken::parse(black_box(&mistyped)).is_err())
    });
    c.bench_function("sha256 digest", |b| b.iter(|| black_box(&token).digest()));

    // A cache holding 10,000 tokens, as in the load benchmark.
    let cache = AuthCache::default();
    for id in 0..10_000 {
        let other = PlainToken::generate(TokenKind::Personal);
        cache.insert(other.digest(), cache.generation(), identity(id));
    }
    cache.insert(token.digest(), cache.generation(), identity(-1));
    c.bench_function("parse + digest + cache hit (10,000 cached)", |b| {
        b.iter(|| {
            let parsed = PlainToken::parse(black_box(&valid)).unwrap();
            cache.get(&parsed.digest()).is_some()
        })
    });
}

criterion_group!(benches, token_check);
criterion_main!(benches);
