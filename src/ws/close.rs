//! Close frame payload (RFC 6455 §5.5.1): an optional 2-byte status code and a UTF-8 reason.
//! nom complete parsing over the unmasked payload. Never panics.

use nom::number::complete::be_u16;
use nom::IResult;

/// The body of a Close frame as found on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClosePayload<'a> {
    /// No body: the receiver reports 1005.
    Empty,
    /// One byte: not a valid body (§5.5.1 requires the first two bytes to be the code).
    OneByte(u8),
    /// A status code and a reason (possibly empty, possibly not valid UTF-8).
    Status { code: u16, reason: &'a [u8] },
}

fn parse_status(input: &[u8]) -> IResult<&[u8], ClosePayload<'_>> {
    let (reason, code) = be_u16(input)?;
    Ok((&[], ClosePayload::Status { code, reason }))
}

/// Parses an unmasked Close payload.
pub fn parse_close_payload(payload: &[u8]) -> ClosePayload<'_> {
    match payload {
        [] => ClosePayload::Empty,
        [b] => ClosePayload::OneByte(*b),
        _ => match parse_status(payload) {
            Ok((_, p)) => p,
            Err(_) => ClosePayload::Empty,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(parse_close_payload(&[]), ClosePayload::Empty);
        assert_eq!(parse_close_payload(&[0x03]), ClosePayload::OneByte(3));
        assert_eq!(
            parse_close_payload(&[0x03, 0xe8]),
            ClosePayload::Status {
                code: 1000,
                reason: b""
            }
        );
        // 1008 "rate limit"
        let body = [&[0x03, 0xf0][..], b"rate limit"].concat();
        assert_eq!(
            parse_close_payload(&body),
            ClosePayload::Status {
                code: 1008,
                reason: b"rate limit"
            }
        );
        // a 123-byte reason is the longest legal one
        let body = [&[0x03, 0xe8][..], &[b'a'; 123][..]].concat();
        match parse_close_payload(&body) {
            ClosePayload::Status { reason, .. } => assert_eq!(reason.len(), 123),
            other => panic!("{other:?}"),
        }
    }
}
