//! The pcapng file format (little-endian): a section header, interface descriptions with
//! their timestamp resolution and offset options, enhanced packet blocks, and decryption
//! secrets blocks. Each function
//! yields one whole block, so a test can put blocks in any order, repeat sections, or point
//! a packet at an interface that was never described.

/// Block type of a section header (also the file's magic).
pub const SECTION_HEADER: u32 = 0x0a0d_0d0a;
/// Block type of an interface description.
pub const INTERFACE_DESCRIPTION: u32 = 1;
/// Block type of an enhanced packet.
pub const ENHANCED_PACKET: u32 = 6;
/// Block type of a Decryption Secrets Block.
pub const DECRYPTION_SECRETS: u32 = 0x0000_000a;
/// Secrets type of a TLS key log ("TLSK").
pub const TLS_KEY_LOG: u32 = 0x544c_534b;
/// Byte-order magic inside the section header.
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Option codes of an interface description (pcapng §4.2).
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;
/// Bytes of a block's type and its two length fields.
const BLOCK_OVERHEAD: usize = 12;

/// A block: type, total length, body, total length again.
pub fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = ((BLOCK_OVERHEAD + body.len()) as u32).to_le_bytes();
    let mut b = kind.to_le_bytes().to_vec();
    b.extend_from_slice(&len);
    b.extend_from_slice(body);
    b.extend_from_slice(&len);
    b
}

/// A section header, version 1.0, section length unknown.
pub fn section_header() -> Vec<u8> {
    let mut body = BYTE_ORDER_MAGIC.to_le_bytes().to_vec();
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&u64::MAX.to_le_bytes());
    block(SECTION_HEADER, &body)
}

/// An interface with link type `linktype`, and the `if_tsresol` byte and `if_tsoffset`
/// seconds when given.
pub fn interface(linktype: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
    let mut body = linktype.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]); // reserved
    body.extend_from_slice(&0u32.to_le_bytes()); // snap length: none
    if let Some(r) = tsresol {
        option(&mut body, IF_TSRESOL, &[r]);
    }
    if let Some(o) = tsoffset {
        option(&mut body, IF_TSOFFSET, &o.to_le_bytes());
    }
    option(&mut body, 0, &[]); // opt_endofopt
    block(INTERFACE_DESCRIPTION, &body)
}

/// An enhanced packet on interface `if_id` at raw timestamp `ts` (in the interface's
/// units), `data` captured of `orig_len` bytes on the wire.
pub fn enhanced_packet(if_id: u32, ts: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
    let mut body = if_id.to_le_bytes().to_vec();
    body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&orig_len.to_le_bytes());
    body.extend_from_slice(data);
    pad(&mut body);
    block(ENHANCED_PACKET, &body)
}

/// A Decryption Secrets Block of type `secrets_type` holding `secrets` (padded to 32 bits,
/// as `editcap --inject-secrets` writes it).
pub fn decryption_secrets(secrets_type: u32, secrets: &[u8]) -> Vec<u8> {
    let mut body = secrets_type.to_le_bytes().to_vec();
    body.extend_from_slice(&(secrets.len() as u32).to_le_bytes());
    body.extend_from_slice(secrets);
    pad(&mut body);
    block(DECRYPTION_SECRETS, &body)
}

/// An option: code, length, value padded to 32 bits.
fn option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&(value.len() as u16).to_le_bytes());
    body.extend_from_slice(value);
    pad(body);
}

fn pad(body: &mut Vec<u8>) {
    body.resize(body.len().div_ceil(4) * 4, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_carry_their_length_twice_and_are_aligned() {
        for b in [
            section_header(),
            interface(1, Some(9), Some(-1)),
            enhanced_packet(0, 1 << 33, b"abc", 60),
        ] {
            let len = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
            assert_eq!(len, b.len());
            assert_eq!(b[b.len() - 4..], b[4..8]);
            assert_eq!(b.len() % 4, 0);
        }
        // if_tsresol: code 9, length 1, value, three bytes of padding.
        assert_eq!(
            interface(1, Some(6), None)[16..24],
            [9, 0, 1, 0, 6, 0, 0, 0]
        );
    }
}
