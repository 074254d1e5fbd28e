//! Token strings. A token can only come into being by generating it or by
//! parsing one; the secret never prints, and only its SHA-256 digest is stored.
//!
//! Format: a kind prefix (`lkp_`, `lko_`, `lkg_`; `lka_` and `lkr_` for OAuth
//! access and refresh tokens, `lks_` for client secrets, `lkc_` for
//! authorization codes), 32 base62 characters from
//! the OS random source (190 bits), and 6 base62 characters of CRC32 over
//! everything before them. The checksum lets a mistyped or made-up token be
//! refused without a database lookup, and lets secret scanners recognise ours.

use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX_LEN: usize = 4;
const BODY_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
pub const TOKEN_LEN: usize = PREFIX_LEN + BODY_LEN + CHECKSUM_LEN;

pub use super::TokenKind;

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Personal => "lkp_",
            TokenKind::Organization => "lko_",
            TokenKind::Group => "lkg_",
            TokenKind::OAuth => "lka_",
            TokenKind::OAuthRefresh => "lkr_",
        }
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        TokenKind::EVERY.into_iter().find(|k| k.prefix() == prefix)
    }
}

/// Why a string is not a Latchkey token. Deliberately says nothing about the
/// string itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    #[error("not a Latchkey token (unknown prefix)")]
    WrongPrefix,
    #[error("not a Latchkey token (wrong length)")]
    WrongLength,
    #[error("not a Latchkey token (unexpected character)")]
    BadCharacter,
    #[error("not a Latchkey token (checksum mismatch)")]
    BadChecksum,
}

/// A token secret in plain text: exists only between generation and the
/// one-time display, or while a request that presented it is being checked.
pub struct PlainToken {
    kind: TokenKind,
    value: String,
}

/// A random string in the token format with `prefix`: 32 base62 characters
/// and the checksum.
fn random_with_prefix(prefix: &str) -> String {
    let mut rng = OsRng;
    let mut value = String::with_capacity(TOKEN_LEN);
    value.push_str(prefix);
    for _ in 0..BODY_LEN {
        // gen_range samples uniformly, so every character carries log2(62) bits.
        value.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    let checksum = checksum_of(&value);
    value.extend(checksum.iter().map(|&digit| char::from(digit)));
    value
}

/// A secret that is not a bearer token (an OAuth client secret, an
/// authorization code): same format and digest, its own prefix.
pub fn generate_secret(prefix: &'static str) -> String {
    random_with_prefix(prefix)
}

/// The digest under which a secret of any kind is stored.
pub fn digest_of(secret: &str) -> TokenDigest {
    TokenDigest(Sha256::digest(secret.as_bytes()).into())
}

pub const CLIENT_SECRET_PREFIX: &str = "lks_";
pub const AUTHORIZATION_CODE_PREFIX: &str = "lkc_";
/// An invitation link's secret.
pub const INVITATION_PREFIX: &str = "lki_";

impl PlainToken {
    pub fn generate(kind: TokenKind) -> Self {
        PlainToken {
            kind,
            value: random_with_prefix(kind.prefix()),
        }
    }

    pub fn parse(raw: &str) -> Result<Self, TokenFormatError> {
        Ok(PlainToken {
            kind: Self::kind_of(raw)?,
            value: raw.to_string(),
        })
    }

    /// The kind of token `raw` is, if it has a token's format (prefix,
    /// length, alphabet and checksum); `parse` without copying the secret.
    pub fn kind_of(raw: &str) -> Result<TokenKind, TokenFormatError> {
        let prefix = raw.get(..PREFIX_LEN).ok_or(TokenFormatError::WrongPrefix)?;
        let kind = TokenKind::from_prefix(prefix).ok_or(TokenFormatError::WrongPrefix)?;
        if raw.len() != TOKEN_LEN {
            return Err(TokenFormatError::WrongLength);
        }
        let rest = &raw.as_bytes()[PREFIX_LEN..];
        if !rest.iter().all(|b| b.is_ascii_alphanumeric()) {
            return Err(TokenFormatError::BadCharacter);
        }
        let (head, checksum) = raw.split_at(PREFIX_LEN + BODY_LEN);
        if checksum_of(head).ct_eq(checksum.as_bytes()).unwrap_u8() != 1 {
            return Err(TokenFormatError::BadChecksum);
        }
        Ok(kind)
    }

    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The secret itself, for the one-time copy dialog. Named so that every use
    /// stands out in review.
    pub fn expose_secret(&self) -> &str {
        &self.value
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest(Sha256::digest(self.value.as_bytes()).into())
    }

    /// Prefix and last four characters: enough to recognise a token in a list,
    /// nothing that helps to guess it (the last characters are checksum).
    pub fn hint(&self) -> String {
        format!("{}…{}", self.kind.prefix(), &self.value[TOKEN_LEN - 4..])
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlainToken({}<redacted>)", self.kind.prefix())
    }
}

/// The SHA-256 of a token string: what the database stores and looks up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

/// A digest is already uniformly spread, so eight of its bytes make a hash
/// as good as hashing all of it (see `tokens::cache::DigestHasher`).
impl std::hash::Hash for TokenDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut head = [0; 8];
        head.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(head));
    }
}

impl TokenDigest {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Compares in constant time, for checks against a stored digest.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({}…)", &self.to_hex()[..8])
    }
}

fn checksum_of(head: &str) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(head.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    // 62^6 > 2^32, so six digits always suffice.
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        for kind in TokenKind::EVERY {
            let token = PlainToken::generate(kind);
            let s = token.expose_secret();
            assert_eq!(s.len(), TOKEN_LEN);
            assert!(s.starts_with(kind.prefix()));
            assert!(s[PREFIX_LEN..].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(
                token.hint().starts_with(kind.prefix())
                    && token.hint().ends_with(&s[TOKEN_LEN - 4..])
            );
        }
    }

    #[test]
    fn two_tokens_differ() {
        let a = PlainToken::generate(TokenKind::Personal);
        let b = PlainToken::generate(TokenKind::Personal);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(!a.digest().matches(&b.digest()));
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let token = PlainToken::generate(TokenKind::Group);
        let body = &token.expose_secret()[PREFIX_LEN..];
        assert!(!format!("{token:?}").contains(body));
        assert!(!format!("{:?}", token.digest()).contains(&token.digest().to_hex()));
    }

    #[test]
    fn digest_is_sha256_of_the_whole_string() {
        let token = PlainToken::generate(TokenKind::Personal);
        let expected: [u8; 32] = Sha256::digest(token.expose_secret().as_bytes()).into();
        assert_eq!(token.digest().0, expected);
        assert_eq!(token.digest().to_hex().len(), 64);
    }

    #[test]
    fn malformed_strings_are_refused_with_the_reason() {
        let good = PlainToken::generate(TokenKind::Personal);
        let s = good.expose_secret();
        assert_eq!(
            PlainToken::parse("").unwrap_err(),
            TokenFormatError::WrongPrefix
        );
        assert_eq!(
            PlainToken::parse(&s.replacen("lkp_", "ghp_", 1)).unwrap_err(),
            TokenFormatError::WrongPrefix
        );
        assert_eq!(
            PlainToken::parse(&s[..TOKEN_LEN - 1]).unwrap_err(),
            TokenFormatError::WrongLength
        );
        assert_eq!(
            PlainToken::parse(&format!("{s}0")).unwrap_err(),
            TokenFormatError::WrongLength
        );
        let mut bad = s.to_string();
        bad.replace_range(10..11, "-");
        assert_eq!(
            PlainToken::parse(&bad).unwrap_err(),
            TokenFormatError::BadCharacter
        );
        // Multi-byte characters must not panic on slicing.
        assert!(PlainToken::parse("lkp_ééééééééééééééééééééé").is_err());
        assert!(PlainToken::parse("é").is_err());
    }

    proptest! {
        #[test]
        fn generate_then_parse_round_trips(kind in prop::sample::select(TokenKind::ALL.to_vec())) {
            let token = PlainToken::generate(kind);
            let parsed = PlainToken::parse(token.expose_secret()).unwrap();
            prop_assert_eq!(parsed.kind(), kind);
            prop_assert!(parsed.digest().matches(&token.digest()));
        }

        #[test]
        fn any_single_character_change_is_refused(
            kind in prop::sample::select(TokenKind::ALL.to_vec()),
            position in 0..TOKEN_LEN,
            replacement in prop::sample::select(ALPHABET.to_vec()),
        ) {
            let token = PlainToken::generate(kind);
            let mut bytes = token.expose_secret().as_bytes().to_vec();
            prop_assume!(bytes[position] != replacement);
            bytes[position] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(PlainToken::parse(&changed).is_err());
        }

        #[test]
        fn arbitrary_input_never_panics(input in ".{0,64}") {
            let _ = PlainToken::parse(&input);
        }
    }
}
