//! Sealing small values for a round trip through the browser (a cookie that
//! carries a new token from a form post to the page that shows it once):
//! XChaCha20-Poly1305, so the browser can neither read nor alter them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub struct SealingKey(XChaCha20Poly1305);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

impl SealingKey {
    /// From a 32-byte key; `None` for any other length.
    pub fn new(key: &[u8]) -> Option<Self> {
        XChaCha20Poly1305::new_from_slice(key).ok().map(SealingKey)
    }

    /// The value as JSON, encrypted and authenticated, in URL-safe base64.
    pub fn seal<T: Serialize>(&self, value: &T) -> Option<String> {
        let plain = serde_json::to_vec(value).ok()?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut sealed = nonce.to_vec();
        sealed.extend(self.0.encrypt(&nonce, plain.as_slice()).ok()?);
        Some(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The value sealed by `seal`; `None` for anything else.
    pub fn open<T: DeserializeOwned>(&self, sealed: &str) -> Option<T> {
        let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, cipher) = sealed.split_at(24);
        let plain = self.0.decrypt(XNonce::from_slice(nonce), cipher).ok()?;
        serde_json::from_slice(&plain).ok()
    }
}
