//! Close frame bodies (RFC 6455 §5.5.1): takes a status code and a reason; yields the code
//! in network byte order followed by the reason bytes, unchecked, so tests can send illegal
//! codes and reasons that are not UTF-8. An empty body (no code at all) is simply `&[]`.

/// Appends a Close body to `out`.
pub fn push_close_body(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
}

/// A Close body on its own.
pub fn close_body(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + reason.len());
    push_close_body(&mut v, code, reason);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_big_endian_then_reason() {
        assert_eq!(close_body(1000, b"bye"), [0x03, 0xe8, b'b', b'y', b'e']);
        assert_eq!(close_body(4999, b""), [0x13, 0x87]);
        assert_eq!(close_body(1001, &[0xff]), [0x03, 0xe9, 0xff]);
    }
}
