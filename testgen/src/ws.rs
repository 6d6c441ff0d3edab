//! WebSocket frames as RFC 6455 §5.2 lays them out. Takes FIN, an opcode byte, an optional
//! masking key and the payload; yields the frame: the first byte, the MASK bit with the
//! shortest length encoding (7 bits up to 125, 16 bits up to 65,535, 64 bits beyond), the
//! key, and the payload XOR-ed with the key when masked.
//!
//! Only well-formed lengths are made here. Callers that need a malformed header (a length in
//! a longer encoding than needed, a 64-bit length with its top bit set, a header cut short)
//! write those bytes themselves.

/// FIN bit of the first byte (§5.2).
pub const FIN_BIT: u8 = 0x80;
/// MASK bit of the second byte (§5.2).
pub const MASK_BIT: u8 = 0x80;
/// Longest payload whose length fits in the 7-bit field.
pub const MAX_7BIT_LEN: usize = 125;
/// 7-bit length value announcing a 16-bit extended length.
pub const LEN_16: u8 = 126;
/// 7-bit length value announcing a 64-bit extended length.
pub const LEN_64: u8 = 127;

/// Continuation frame (§5.2, §11.8).
pub const CONTINUATION: u8 = 0x0;
/// Text frame.
pub const TEXT: u8 = 0x1;
/// Binary frame.
pub const BINARY: u8 = 0x2;
/// Close frame (§5.5.1).
pub const CLOSE: u8 = 0x8;
/// Ping frame.
pub const PING: u8 = 0x9;
/// Pong frame.
pub const PONG: u8 = 0xa;

/// Appends one frame to `out`. `opcode` is OR-ed into the first byte as is, so the RSV bits
/// can be set through it (`0x41` is RSV1 and text). With `mask`, the MASK bit is set and
/// the payload is masked with that key (§5.3).
pub fn encode_frame(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    out.push(if fin { FIN_BIT } else { 0 } | opcode);
    let m = if mask.is_some() { MASK_BIT } else { 0 };
    match payload.len() {
        n if n <= MAX_7BIT_LEN => out.push(m | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(m | LEN_16);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | LEN_64);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
        }
        None => out.extend_from_slice(payload),
    }
}

/// One frame on its own; see [`encode_frame`].
pub fn frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 14);
    encode_frame(&mut v, fin, opcode, mask, payload);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn short_unmasked_frame() {
        assert_eq!(
            frame(true, TEXT, None, b"Hello"),
            [
                0x81, // FIN, text
                0x05, // no MASK, length 5
                b'H', b'e', b'l', b'l', b'o',
            ]
        );
    }

    #[test]
    fn masked_frame_from_rfc_6455_section_5_7() {
        assert_eq!(
            frame(true, TEXT, Some([0x37, 0xfa, 0x21, 0x3d]), b"Hello"),
            [
                0x81, // FIN, text
                0x85, // MASK, length 5
                0x37, 0xfa, 0x21, 0x3d, // masking key
                0x7f, 0x9f, 0x4d, 0x51, 0x58, // "Hello" masked
            ]
        );
    }

    #[test]
    fn length_encodings_at_their_boundaries() {
        for (len, header) in [
            (0usize, vec![0x82, 0]),
            (125, vec![0x82, 125]),
            (126, vec![0x82, 126, 0, 126]),
            (65_535, vec![0x82, 126, 0xff, 0xff]),
            (65_536, vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let payload = vec![0xab; len];
            let f = frame(true, BINARY, None, &payload);
            assert_eq!(f[..header.len()], header, "length {len}");
            assert_eq!(f.len(), header.len() + len);
            let m = frame(true, BINARY, Some(KEY), &payload);
            assert_eq!(m[1], header[1] | MASK_BIT, "length {len}");
            assert_eq!(m[header.len()..header.len() + 4], KEY);
            assert_eq!(m.len(), header.len() + 4 + len);
        }
    }

    #[test]
    fn fin_clear_and_rsv_bits_through_the_opcode() {
        assert_eq!(frame(false, PING, None, b"")[0], 0x09);
        assert_eq!(frame(true, 0x40 | TEXT, None, b"")[0], 0xc1);
        assert_eq!(frame(false, CONTINUATION, None, b"")[0], 0x00);
    }

    #[test]
    fn encode_appends() {
        let mut out = vec![1, 2];
        encode_frame(&mut out, true, CLOSE, None, &[3, 0xe8]);
        assert_eq!(out, [1, 2, 0x88, 2, 3, 0xe8]);
    }
}
