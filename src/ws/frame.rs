//! WebSocket frame header parser (RFC 6455 §5.2), nom streaming.
//!
//! `parse_frame_header` takes the bytes at a frame boundary and returns the header or
//! `Incomplete` with what is still needed; the payload is not touched. Never panics.

use nom::bytes::streaming::take;
use nom::number::streaming::{be_u16, be_u64, be_u8};
use nom::IResult;
use nom::Parser;

/// Largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;
/// Longest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// Frame opcode (RFC 6455 §5.2, §11.8). Every 4-bit value is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    /// 0x3-0x7 (non-control) and 0xB-0xF (control) are reserved.
    Reserved(u8),
}

impl Opcode {
    pub fn from_u8(v: u8) -> Opcode {
        match v & 0x0f {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            other => Opcode::Reserved(other),
        }
    }

    /// Control frames have the high bit of the opcode set (§5.5).
    /// A frame of a data message: text, binary or their continuation.
    pub fn is_data(self) -> bool {
        matches!(self, Opcode::Continuation | Opcode::Text | Opcode::Binary)
    }

    pub fn is_control(self) -> bool {
        match self {
            Opcode::Close | Opcode::Ping | Opcode::Pong => true,
            Opcode::Reserved(v) => v >= 8,
            _ => false,
        }
    }
}

impl std::fmt::Display for Opcode {
    /// The opcode's name in RFC 6455 §5.2 (`Reserved(3)` for a reserved value).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opcode::Continuation => f.write_str("Continuation"),
            Opcode::Text => f.write_str("Text"),
            Opcode::Binary => f.write_str("Binary"),
            Opcode::Close => f.write_str("Close"),
            Opcode::Ping => f.write_str("Ping"),
            Opcode::Pong => f.write_str("Pong"),
            Opcode::Reserved(v) => write!(f, "Reserved({v})"),
        }
    }
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: Opcode,
    pub masked: bool,
    pub payload_len: u64,
    pub masking_key: Option<[u8; 4]>,
    /// Bytes of the header on the wire (2 to 14).
    pub header_len: usize,
    /// False when the length used a longer encoding than needed (§5.2 "minimal number of bytes").
    pub minimal_length: bool,
    /// The 64-bit length had its most significant bit set (§5.2 forbids it).
    pub length_msb_set: bool,
}

/// Parses one frame header.
pub fn parse_frame_header(input: &[u8]) -> IResult<&[u8], FrameHeader> {
    let (rest, (b0, b1)) = (be_u8, be_u8).parse(input)?;
    let len7 = b1 & 0x7f;
    let (rest, payload_len, ext_len, minimal, msb) = match len7 {
        126 => {
            let (rest, l) = be_u16(rest)?;
            (rest, u64::from(l), 2, l >= 126, false)
        }
        127 => {
            let (rest, l) = be_u64(rest)?;
            (rest, l, 8, l > 0xffff, l >> 63 == 1)
        }
        l => (rest, u64::from(l), 0, true, false),
    };
    let masked = b1 & 0x80 != 0;
    let (rest, masking_key) = if masked {
        let (rest, k) = take(4usize)(rest)?;
        let mut key = [0u8; 4];
        key.copy_from_slice(k);
        (rest, Some(key))
    } else {
        (rest, None)
    };
    Ok((
        rest,
        FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode: Opcode::from_u8(b0),
            masked,
            payload_len,
            masking_key,
            header_len: 2 + ext_len + if masked { 4 } else { 0 },
            minimal_length: minimal,
            length_msb_set: msb,
        },
    ))
}

/// Whether `data`, once unmasked with `key` from payload offset `pos`, is all ASCII (an
/// unmasked payload passes the key `[0; 4]`): judged without unmasking a copy, eight bytes
/// at a time.
pub fn masked_is_ascii(data: &[u8], key: [u8; 4], pos: u64) -> bool {
    let mut k = key;
    k.rotate_left((pos % 4) as usize);
    let word = u64::from(u32::from_le_bytes(k));
    let wide = word | (word << 32);
    let mut high = 0u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        high |= u64::from_le_bytes(b) ^ wide;
    }
    let rest = chunks.remainder();
    let mut b = [0u8; 8];
    if let Some(dst) = b.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    // Only the bytes present count: the zeros after them would unmask to the key.
    let present = u64::MAX
        .checked_shr(64 - 8 * rest.len() as u32)
        .unwrap_or(0);
    high |= (u64::from_le_bytes(b) ^ wide) & present;
    high & 0x8080_8080_8080_8080 == 0
}

/// Passes `data` to `each` unmasked (with `key`, from payload offset `pos`), in pieces
/// copied to the stack; unmasked data (`None`) is passed as it is.
pub fn unmasked_pieces(data: &[u8], key: Option<[u8; 4]>, pos: u64, each: &mut dyn FnMut(&[u8])) {
    let Some(k) = key else {
        each(data);
        return;
    };
    let mut buf = [0u8; 256];
    let mut at = pos;
    for piece in data.chunks(buf.len()) {
        let Some(plain) = buf.get_mut(..piece.len()) else {
            return;
        };
        plain.copy_from_slice(piece);
        unmask(plain, k, at);
        at += piece.len() as u64;
        each(plain);
    }
}

/// XORs `data` with the masking key, `pos` being the offset of `data[0]` in the payload.
pub fn unmask(data: &mut [u8], key: [u8; 4], pos: u64) {
    // The key rotated so that it starts at `pos`, then applied eight bytes at a time.
    let mut k = key;
    k.rotate_left((pos % 4) as usize);
    let word = u32::from_ne_bytes(k);
    let wide = u64::from(word) | (u64::from(word) << 32);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(b) ^ wide).to_ne_bytes());
    }
    for (b, m) in chunks.into_remainder().iter_mut().zip(k.iter().cycle()) {
        *b ^= m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmask_matches_the_rfc_definition_at_any_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for pos in 0..8u64 {
            for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 100, 999] {
                let mut got = data[..len].to_vec();
                unmask(&mut got, key, pos);
                let want: Vec<u8> = data[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[((pos + i as u64) % 4) as usize])
                    .collect();
                assert_eq!(got, want, "pos {pos} len {len}");
            }
        }
    }

    #[test]
    fn masked_ascii_is_judged_without_unmasking() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let long_ascii = b"0123456789".repeat(10);
        let mut late = long_ascii.clone();
        late[70] = 0xc3; // a non-ASCII byte in the third 32-byte block
        let mut tail = long_ascii.clone();
        tail[99] = 0x80; // the last byte
        for text in [
            &long_ascii[..],
            &late,
            &tail,
            &b"plain ascii text, long enough for words"[..],
            "caf\u{e9} au lait".as_bytes(),
            b"x",
            b"",
        ] {
            for pos in 0..4u64 {
                let mut masked = text.to_vec();
                unmask(&mut masked, key, pos);
                assert_eq!(
                    masked_is_ascii(&masked, key, pos),
                    text.is_ascii(),
                    "{text:?} at {pos}"
                );
            }
        }
    }

    #[test]
    fn masked_close_header() {
        let bytes = [
            0x88, // FIN, opcode 8 (Close)
            0x82, // MASK, length 2
            0x01, 0x02, 0x03, 0x04, // masking key
            0x02, 0xea, // payload (masked 1000)
        ];
        let (rest, h) = parse_frame_header(&bytes).unwrap();
        assert_eq!(rest.len(), 2);
        assert!(h.fin && h.masked && h.minimal_length);
        assert_eq!(h.opcode, Opcode::Close);
        assert_eq!(h.payload_len, 2);
        assert_eq!(h.header_len, 6);
        let mut p = rest.to_vec();
        unmask(&mut p, h.masking_key.unwrap(), 0);
        assert_eq!(u16::from_be_bytes([p[0], p[1]]), 1000);
        for n in 0..6 {
            assert!(
                matches!(
                    parse_frame_header(&bytes[..n]),
                    Err(nom::Err::Incomplete(_))
                ),
                "{n}"
            );
        }
    }

    #[test]
    fn length_encodings() {
        // 125 in 7 bits; 126 and 65535 in 16 bits; 65536 in 64 bits.
        let (_, h) = parse_frame_header(&[0x82, 125]).unwrap();
        assert_eq!(
            (h.payload_len, h.header_len, h.minimal_length),
            (125, 2, true)
        );
        let (_, h) = parse_frame_header(&[0x82, 126, 0x00, 126]).unwrap();
        assert_eq!(
            (h.payload_len, h.header_len, h.minimal_length),
            (126, 4, true)
        );
        let (_, h) = parse_frame_header(&[0x82, 126, 0x00, 125]).unwrap();
        assert!(!h.minimal_length);
        let (_, h) = parse_frame_header(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap();
        assert_eq!(
            (h.payload_len, h.header_len, h.minimal_length),
            (65536, 10, true)
        );
        let (_, h) = parse_frame_header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).unwrap();
        assert!(!h.minimal_length);
        let (_, h) = parse_frame_header(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(h.length_msb_set);
        for n in 0..10 {
            assert!(parse_frame_header(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0][..n]).is_err());
        }
    }

    #[test]
    fn opcodes_and_bits() {
        let (_, h) = parse_frame_header(&[0x73, 0x00]).unwrap();
        assert!(!h.fin && h.rsv1 && h.rsv2 && h.rsv3);
        assert_eq!(h.opcode, Opcode::Reserved(3));
        assert!(!h.opcode.is_control());
        assert!(Opcode::Reserved(0xb).is_control());
        for v in 0..16u8 {
            let op = Opcode::from_u8(v);
            assert_eq!(op.is_control(), v >= 8, "{v}");
            // The name in reports is the one the Debug form would give.
            assert_eq!(op.to_string(), format!("{op:?}"));
        }
    }
}
