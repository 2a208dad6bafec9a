//! The executor's key check: constant time, before the body is read.

use subtle::ConstantTimeEq;

/// The header the executor sends the key in.
pub const KEY_HEADER: &str = "x-internal-challenge";

/// Whether `headers` hold exactly one `name` header equal to `expected` (constant time). With two, which of
/// them is meant would be a guess, so neither counts.
pub fn one_header_matches(headers: &hyper::HeaderMap, name: &str, expected: &[u8]) -> bool {
    let mut values = headers.get_all(name).iter();
    let given = match (values.next(), values.next()) {
        (Some(v), None) => Some(v.as_bytes()),
        _ => None,
    };
    key_matches(expected, given)
}

/// True when `given` equals `expected`. The time taken depends only on the lengths, never on where the
/// bytes differ; an empty key never matches.
pub fn key_matches(expected: &[u8], given: Option<&[u8]>) -> bool {
    let Some(given) = given else { return false };
    if expected.is_empty() || given.is_empty() {
        return false;
    }
    // Compare over the expected key's length whatever was sent, so the work done does not reveal how much
    // of a guess was right; the length check joins in without a branch.
    let mut padded = vec![0u8; expected.len()];
    let n = given.len().min(expected.len());
    padded[..n].copy_from_slice(&given[..n]);
    let same_len = (given.len() as u64).ct_eq(&(expected.len() as u64));
    bool::from(expected.ct_eq(&padded) & same_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_key_matches() {
        assert!(key_matches(b"secret", Some(b"secret")));
        for wrong in [
            &b""[..],
            b"secre",
            b"secret ",
            b"Secret",
            b"secret\0",
            b"xsecret",
        ] {
            assert!(!key_matches(b"secret", Some(wrong)), "{wrong:?}");
        }
        assert!(!key_matches(b"secret", None));
        assert!(!key_matches(b"", Some(b"")));
    }
}
