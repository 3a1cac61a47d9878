//! Trace ids: 32 lower-case hex characters (128 bits) from a CSPRNG, the format of W3C and
//! OpenTelemetry trace ids.

/// A new trace id from the thread-local CSPRNG (ChaCha, seeded by the OS).
pub fn generate() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_lower_case_hex_and_distinct() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
