//! Any string given to the token parser is refused or accepted, never a panic;
//! what it accepts formats back to the very same string.
#![no_main]

use latchkey::tokens::secret::PlainToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(token) = PlainToken::parse(text) {
            assert_eq!(token.expose_secret(), text);
        }
    }
});
