//! Record decryption for wss:// captures whose secrets are known from a key log
//! (`tls::keylog`): the TLS 1.2 key expansion (RFC 5246 §6.3), the TLS 1.3 traffic keys and
//! KeyUpdate (RFC 8446 §7.2, §7.3), and the opening of one protected record at a time
//! (RFC 5246 §6.2.3, RFC 7366, RFC 7905, RFC 8446 §5.2).
//!
//! Takes a cipher suite number and secrets; yields one [`Decryptor`] per direction, which
//! opens records in place and says which content type each carried. Never panics on input:
//! a record too short for its suite is [`DecryptError::Malformed`], one whose tag or MAC does
//! not check (a wrong key, a damaged record) is [`DecryptError::Auth`].
//!
//! Supported suites ([`Suite::of`]):
//! - TLS 1.3: `TLS_AES_128_GCM_SHA256`, `TLS_AES_256_GCM_SHA384`,
//!   `TLS_CHACHA20_POLY1305_SHA256`.
//! - TLS 1.2, whatever the key exchange (the key log gives the master secret, so how it was
//!   agreed does not matter): AES-128/256-GCM (RFC 5288, RFC 5289), ChaCha20-Poly1305
//!   (RFC 7905), and AES-128/256-CBC with HMAC-SHA1, HMAC-SHA256 or HMAC-SHA384 (RFC 5246,
//!   RFC 5289), MAC-then-encrypt or encrypt-then-MAC (RFC 7366).
//!
//! Left out, `Suite::of` gives `None`: TLS 1.3 CCM suites and every CCM or CCM_8 suite of
//! TLS 1.2 (rarely seen, and not offered by ring); RC4, 3DES, DES, IDEA, SEED, Camellia and
//! ARIA suites; NULL and export suites; GOST and SM4. The TLS 1.2 key expansion applies to
//! TLS 1.2 only: TLS 1.0 and 1.1 use the MD5/SHA-1 PRF (and TLS 1.0 an implicit CBC IV),
//! and are not decrypted, so callers pass only TLS 1.2 sessions to [`Decryptor::tls12`].
//!
//! CBC records are checked for padding and MAC, but not in constant time: this is a
//! passive analyzer, not an endpoint, and no one is answering an attacker's queries.
//!
//! Cryptography comes from ring (AES-GCM, ChaCha20-Poly1305, HMAC-SHA-2) and RustCrypto's
//! `aes` and `cbc` (AES-CBC, which ring does not offer) and `hmac` with `sha1` (HMAC-SHA1,
//! faster than ring's).

use std::fmt;
use std::ops::Range;

use ::hmac::{Hmac, Mac as _};
use aes::cipher::generic_array::typenum::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockDecryptMut, InnerIvInit, KeyInit};
use ring::{aead, hmac};
use sha1::Sha1;
use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherMac, TlsPRF};

/// AEAD tag length of AES-GCM and ChaCha20-Poly1305 (RFC 5116 §5.1, RFC 8439 §2.8).
const TAG_LEN: usize = 16;
/// AEAD nonce length (RFC 5116 §3.2; RFC 8446 §5.3 iv_length).
const NONCE_LEN: usize = 12;
/// TLS 1.2 AES-GCM: the implicit part of the nonce, from the key block (RFC 5288 §3).
const GCM_SALT_LEN: usize = 4;
/// TLS 1.2 AES-GCM: the explicit part of the nonce, at the start of each record body
/// (RFC 5288 §3).
const GCM_EXPLICIT_LEN: usize = 8;
/// AES block size, and the length of a CBC record's explicit IV (RFC 5246 §6.2.3.2).
const AES_BLOCK: usize = 16;
/// TLS 1.2 master secret length (RFC 5246 §8.1).
pub const MASTER_SECRET_LEN: usize = 48;
/// Longest TLS 1.3 traffic secret: the SHA-384 output.
const MAX_SECRET_LEN: usize = 48;
/// Longest TLS 1.2 key block: two SHA-384 MAC keys, two AES-256 keys, two 12-byte IVs.
const MAX_KEY_BLOCK: usize = 2 * (48 + 32 + NONCE_LEN);
/// Length of a TLS random (RFC 5246 §7.4.1.2).
const RANDOM_LEN: usize = 32;

/// A hash of the PRF (TLS 1.2) or of HKDF (TLS 1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// An AEAD of the supported suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aead {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Aead {
    fn ring(self) -> &'static aead::Algorithm {
        match self {
            Aead::Aes128Gcm => &aead::AES_128_GCM,
            Aead::Aes256Gcm => &aead::AES_256_GCM,
            Aead::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Aead::Aes128Gcm => 16,
            Aead::Aes256Gcm | Aead::ChaCha20Poly1305 => 32,
        }
    }
}

/// The record MAC of a TLS 1.2 CBC suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mac {
    Sha1,
    Sha256,
    Sha384,
}

impl Mac {
    fn len(self) -> usize {
        match self {
            Mac::Sha1 => 20,
            Mac::Sha256 => 32,
            Mac::Sha384 => 48,
        }
    }
}

/// How records are protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protection {
    Aead(Aead),
    /// AES-CBC with a 16- or 32-byte key, and an HMAC.
    Cbc {
        key_len: usize,
        mac: Mac,
    },
}

/// What a cipher suite needs for decryption. Only suites this module can decrypt have one;
/// see the module documentation for those left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    id: u16,
    name: &'static str,
    tls13: bool,
    /// The PRF hash (TLS 1.2) or HKDF hash (TLS 1.3).
    hash: Hash,
    protection: Protection,
}

impl Suite {
    /// The suite with this IANA number, or `None` when it cannot be decrypted.
    pub fn of(id: u16) -> Option<Suite> {
        let s = tls_parser::TlsCipherSuite::from_id(id)?;
        let tls13 = s.kx == TlsCipherKx::Tls13;
        let hash = match s.prf {
            TlsPRF::Sha256 => Hash::Sha256,
            TlsPRF::Sha384 => Hash::Sha384,
            // A TLS 1.2 suite defined before TLS 1.2 uses the SHA-256 PRF (RFC 5246 §5).
            TlsPRF::Default if !tls13 => Hash::Sha256,
            _ => return None,
        };
        let protection = match (s.enc, s.enc_mode, s.mac) {
            (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, TlsCipherMac::Aead) => match s.enc_size {
                128 => Protection::Aead(Aead::Aes128Gcm),
                256 => Protection::Aead(Aead::Aes256Gcm),
                _ => return None,
            },
            (TlsCipherEnc::Chacha20_Poly1305, _, TlsCipherMac::Aead) => {
                Protection::Aead(Aead::ChaCha20Poly1305)
            }
            (TlsCipherEnc::Aes, TlsCipherEncMode::Cbc, mac) if !tls13 => {
                let key_len = match s.enc_size {
                    128 => 16,
                    256 => 32,
                    _ => return None,
                };
                let mac = match mac {
                    TlsCipherMac::HmacSha1 => Mac::Sha1,
                    TlsCipherMac::HmacSha256 => Mac::Sha256,
                    TlsCipherMac::HmacSha384 => Mac::Sha384,
                    _ => return None,
                };
                Protection::Cbc { key_len, mac }
            }
            _ => return None,
        };
        Some(Suite {
            id,
            name: s.name,
            tls13,
            hash,
            protection,
        })
    }

    /// The IANA number.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The IANA name, such as `TLS_AES_128_GCM_SHA256`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A TLS 1.3 suite (for [`Decryptor::tls13`]); otherwise a TLS 1.2 one
    /// (for [`Decryptor::tls12`]).
    pub fn is_tls13(&self) -> bool {
        self.tls13
    }
}

/// Why a record could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// The AEAD tag or the record MAC did not check: the key is wrong or the record damaged.
    /// For MAC-then-encrypt CBC, bad padding is also this (it is what a wrong key gives, and
    /// TLS reports it as bad_record_mac too, RFC 5246 §6.2.3.2).
    Auth,
    /// The record cannot be of this suite: too short, not a whole number of blocks, bad
    /// padding behind a valid encrypt-then-MAC, or a TLS 1.3 plaintext with no content type.
    Malformed,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecryptError::Auth => "record authentication failed",
            DecryptError::Malformed => "malformed protected record",
        })
    }
}

impl std::error::Error for DecryptError {}

/// An AEAD key with its write IV (TLS 1.3, TLS 1.2 ChaCha20) or salt (TLS 1.2 AES-GCM, in
/// the first four bytes).
struct AeadKey {
    key: aead::LessSafeKey,
    iv: [u8; NONCE_LEN],
}

impl AeadKey {
    fn new(alg: Aead, key: &[u8], iv: &[u8]) -> Option<AeadKey> {
        let key = aead::UnboundKey::new(alg.ring(), key).ok()?;
        let mut fixed = [0u8; NONCE_LEN];
        fixed.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(AeadKey {
            key: aead::LessSafeKey::new(key),
            iv: fixed,
        })
    }

    /// The per-record nonce: the IV XOR the sequence number, left-padded (RFC 8446 §5.3,
    /// RFC 7905 §2).
    fn xor_nonce(&self, seq: u64) -> aead::Nonce {
        let mut n = self.iv;
        for (b, s) in n[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        aead::Nonce::assume_unique_for_key(n)
    }
}

/// AES-CBC decryption keys. Their sizes differ, but the enum only lives boxed (in `Cbc`).
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
enum CbcCipher {
    Aes128(aes::Aes128Dec),
    Aes256(aes::Aes256Dec),
}

impl CbcCipher {
    fn new(key: &[u8]) -> Option<CbcCipher> {
        match key.len() {
            16 => aes::Aes128Dec::new_from_slice(key)
                .ok()
                .map(CbcCipher::Aes128),
            32 => aes::Aes256Dec::new_from_slice(key)
                .ok()
                .map(CbcCipher::Aes256),
            _ => None,
        }
    }

    /// Decrypts `data` (a whole number of blocks, checked by the caller) in place.
    fn decrypt(&self, iv: &[u8; AES_BLOCK], data: &mut [u8]) {
        let (blocks, _tail) = InOutBuf::from(data).into_chunks::<U16>();
        match self {
            CbcCipher::Aes128(c) => {
                cbc::Decryptor::inner_iv_init(c.clone(), iv.into()).decrypt_blocks_inout_mut(blocks)
            }
            CbcCipher::Aes256(c) => {
                cbc::Decryptor::inner_iv_init(c.clone(), iv.into()).decrypt_blocks_inout_mut(blocks)
            }
        }
    }
}

/// A record MAC key. HMAC-SHA1 comes from RustCrypto, whose SHA-1 uses the SHA extensions
/// (ring's SHA-1 is portable code, five times slower); HMAC-SHA-2 from ring.
enum MacKey {
    Sha1(Box<Hmac<Sha1>>),
    Sha2(hmac::Key),
}

impl MacKey {
    fn new(mac: Mac, key: &[u8]) -> Option<MacKey> {
        Some(match mac {
            Mac::Sha1 => MacKey::Sha1(Box::new(
                <Hmac<Sha1> as ::hmac::Mac>::new_from_slice(key).ok()?,
            )),
            Mac::Sha256 => MacKey::Sha2(hmac::Key::new(hmac::HMAC_SHA256, key)),
            Mac::Sha384 => MacKey::Sha2(hmac::Key::new(hmac::HMAC_SHA384, key)),
        })
    }

    /// Whether the MAC of the concatenated `parts` is `expected`.
    fn verify(&self, parts: &[&[u8]], expected: &[u8]) -> bool {
        match self {
            MacKey::Sha1(key) => {
                let mut m = Hmac::<Sha1>::clone(key);
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes().as_slice() == expected
            }
            MacKey::Sha2(key) => {
                let mut ctx = hmac::Context::with_key(key);
                for p in parts {
                    ctx.update(p);
                }
                ctx.sign().as_ref() == expected
            }
        }
    }
}

/// One direction of a TLS 1.2 CBC suite. Kept behind a box: the AES key schedules are large.
struct Cbc {
    cipher: CbcCipher,
    mac: MacKey,
    mac_len: usize,
    /// RFC 7366 encrypt-then-MAC was negotiated.
    encrypt_then_mac: bool,
}

/// The record protection of one direction.
enum State {
    /// TLS 1.3: nonce = iv XOR seq, AAD = the record header. The traffic secret is kept for
    /// KeyUpdate.
    Tls13 {
        key: AeadKey,
        aead: Aead,
        hash: Hash,
        secret: [u8; MAX_SECRET_LEN],
    },
    /// TLS 1.2 AES-GCM: nonce = salt || explicit nonce from the record (RFC 5288 §3).
    Gcm12(AeadKey),
    /// TLS 1.2 ChaCha20-Poly1305: nonce = iv XOR seq, no explicit nonce (RFC 7905 §2).
    ChaCha12(AeadKey),
    /// TLS 1.2 AES-CBC with HMAC.
    Cbc(Box<Cbc>),
}

/// One direction's record protection, with its sequence number.
///
/// Invariant: `seq` is the sequence number of the next record of this direction; it starts at
/// 0 when the keys take effect and grows by one for every record opened, failed or skipped.
pub struct Decryptor {
    seq: u64,
    state: State,
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.state {
            State::Tls13 { aead, .. } => match aead {
                Aead::Aes128Gcm => "TLS 1.3 AES-128-GCM",
                Aead::Aes256Gcm => "TLS 1.3 AES-256-GCM",
                Aead::ChaCha20Poly1305 => "TLS 1.3 ChaCha20-Poly1305",
            },
            State::Gcm12(_) => "TLS 1.2 AES-GCM",
            State::ChaCha12(_) => "TLS 1.2 ChaCha20-Poly1305",
            State::Cbc(c) if c.encrypt_then_mac => "TLS 1.2 AES-CBC encrypt-then-MAC",
            State::Cbc(_) => "TLS 1.2 AES-CBC",
        };
        f.debug_struct("Decryptor")
            .field("kind", &kind)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// Takes the next `n` bytes of `rest`.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

impl Decryptor {
    /// TLS 1.2: key expansion (RFC 5246 §6.3) with the PRF of the suite's hash from the
    /// 48-byte master secret. Returns (client_write, server_write) decryptors.
    /// `encrypt_then_mac`: the RFC 7366 extension was negotiated (matters for CBC suites
    /// only). `None` for a TLS 1.3 suite or a master secret of the wrong length.
    pub fn tls12(
        suite: &Suite,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        encrypt_then_mac: bool,
    ) -> Option<(Decryptor, Decryptor)> {
        if suite.tls13 || master.len() != MASTER_SECRET_LEN {
            return None;
        }
        // Key block layout: MAC keys, encryption keys, fixed IVs, client's before server's.
        // TLS 1.2 CBC records carry their IV, so the key block's CBC IVs are not needed.
        let (mac_len, key_len, iv_len) = match suite.protection {
            Protection::Aead(a @ (Aead::Aes128Gcm | Aead::Aes256Gcm)) => {
                (0, a.key_len(), GCM_SALT_LEN)
            }
            Protection::Aead(a @ Aead::ChaCha20Poly1305) => (0, a.key_len(), NONCE_LEN),
            Protection::Cbc { key_len, mac } => (mac.len(), key_len, 0),
        };
        let mut block = [0u8; MAX_KEY_BLOCK];
        let block = block.get_mut(..2 * (mac_len + key_len + iv_len))?;
        let mut seed = [0u8; 2 * RANDOM_LEN];
        let (s, c) = seed.split_at_mut(RANDOM_LEN);
        s.copy_from_slice(server_random);
        c.copy_from_slice(client_random);
        prf(suite.hash, master, b"key expansion", &seed, block);

        let mut rest: &[u8] = block;
        let client_mac = take(&mut rest, mac_len)?;
        let server_mac = take(&mut rest, mac_len)?;
        let client_key = take(&mut rest, key_len)?;
        let server_key = take(&mut rest, key_len)?;
        let client_iv = take(&mut rest, iv_len)?;
        let server_iv = take(&mut rest, iv_len)?;
        let one = |mac_key: &[u8], key: &[u8], iv: &[u8]| -> Option<Decryptor> {
            let state = match suite.protection {
                Protection::Aead(a @ Aead::ChaCha20Poly1305) => {
                    State::ChaCha12(AeadKey::new(a, key, iv)?)
                }
                Protection::Aead(a) => State::Gcm12(AeadKey::new(a, key, iv)?),
                Protection::Cbc { mac, .. } => State::Cbc(Box::new(Cbc {
                    cipher: CbcCipher::new(key)?,
                    mac: MacKey::new(mac, mac_key)?,
                    mac_len: mac.len(),
                    encrypt_then_mac,
                })),
            };
            Some(Decryptor { seq: 0, state })
        };
        Some((
            one(client_mac, client_key, client_iv)?,
            one(server_mac, server_key, server_iv)?,
        ))
    }

    /// TLS 1.3: the key and IV from a traffic secret by HKDF-Expand-Label (RFC 8446 §7.3).
    /// `None` for a TLS 1.2 suite or a secret that is not as long as the suite's hash.
    pub fn tls13(suite: &Suite, traffic_secret: &[u8]) -> Option<Decryptor> {
        let Protection::Aead(aead) = suite.protection else {
            return None;
        };
        if !suite.tls13 || traffic_secret.len() != suite.hash.len() {
            return None;
        }
        let mut secret = [0u8; MAX_SECRET_LEN];
        secret
            .get_mut(..traffic_secret.len())?
            .copy_from_slice(traffic_secret);
        let key = traffic_key(aead, suite.hash, traffic_secret)?;
        Some(Decryptor {
            seq: 0,
            state: State::Tls13 {
                key,
                aead,
                hash: suite.hash,
                secret,
            },
        })
    }

    /// TLS 1.3 KeyUpdate: the next generation of the traffic secret (RFC 8446 §7.2), new key
    /// and IV, sequence number 0. False (and nothing changes) if this is not TLS 1.3.
    pub fn key_update(&mut self) -> bool {
        let State::Tls13 {
            key,
            aead,
            hash,
            secret,
        } = &mut self.state
        else {
            return false;
        };
        let len = hash.len();
        let mut next = [0u8; MAX_SECRET_LEN];
        let (Some(current), Some(out)) = (secret.get(..len), next.get_mut(..len)) else {
            return false;
        };
        if expand_label(*hash, current, b"traffic upd", out).is_none() {
            return false;
        }
        let Some(new_key) = traffic_key(*aead, *hash, out) else {
            return false;
        };
        *key = new_key;
        *secret = next;
        self.seq = 0;
        true
    }

    /// A record lost to a capture gap: its sequence number is skipped.
    pub fn skip(&mut self) {
        self.seq = self.seq.wrapping_add(1);
    }

    /// Decrypts one record in place. `header` is the 5-byte record header as on the wire,
    /// `body` the record body. On success returns the real content type (TLS 1.3: the inner
    /// type, after the zero padding is stripped; TLS 1.2: the header's type) and the
    /// plaintext's range within `body`. The sequence number advances on success only: after
    /// a failure the caller decides whether the record counts (`skip`) or whether it was
    /// meant for other keys (TLS 1.3 handshake and application keys are tried in turn). A
    /// failed record's body is left undefined (the ciphers decrypt in place as they
    /// authenticate). The plaintext length is not checked against the 2^14 limit; that is
    /// for the caller to report.
    pub fn open(
        &mut self,
        header: &[u8; 5],
        body: &mut [u8],
    ) -> Result<(u8, Range<usize>), DecryptError> {
        let seq = self.seq;
        let opened = match &self.state {
            State::Tls13 { key, .. } => open_tls13(key, seq, header, body),
            State::Gcm12(key) => open_gcm12(key, seq, header, body),
            State::ChaCha12(key) => open_chacha12(key, seq, header, body),
            State::Cbc(cbc) => open_cbc(cbc, seq, header, body),
        };
        if opened.is_ok() {
            self.seq = self.seq.wrapping_add(1);
        }
        opened
    }
}

/// The TLS 1.2 additional data and MAC prefix: seq_num, type, version, length
/// (RFC 5246 §6.2.3.1 and §6.2.3.3).
fn pseudo_header(seq: u64, header: &[u8; 5], len: usize) -> Result<[u8; 13], DecryptError> {
    let len = u16::try_from(len).map_err(|_| DecryptError::Malformed)?;
    let mut out = [0u8; 13];
    let (s, rest) = out.split_at_mut(8);
    s.copy_from_slice(&seq.to_be_bytes());
    let (t, rest) = rest.split_at_mut(3);
    t.copy_from_slice(&header[..3]);
    rest.copy_from_slice(&len.to_be_bytes());
    Ok(out)
}

/// RFC 8446 §5.2: AAD is the record header; the plaintext is content || type || zeros.
fn open_tls13(
    key: &AeadKey,
    seq: u64,
    header: &[u8; 5],
    body: &mut [u8],
) -> Result<(u8, Range<usize>), DecryptError> {
    if body.len() < TAG_LEN {
        return Err(DecryptError::Malformed);
    }
    let plain = key
        .key
        .open_in_place(key.xor_nonce(seq), aead::Aad::from(*header), body)
        .map_err(|_| DecryptError::Auth)?;
    let end = plain
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(DecryptError::Malformed)?;
    let content_type = *plain.get(end).ok_or(DecryptError::Malformed)?;
    Ok((content_type, 0..end))
}

/// RFC 5288 §3: body = explicit nonce (8) || ciphertext || tag.
fn open_gcm12(
    key: &AeadKey,
    seq: u64,
    header: &[u8; 5],
    body: &mut [u8],
) -> Result<(u8, Range<usize>), DecryptError> {
    let len = body
        .len()
        .checked_sub(GCM_EXPLICIT_LEN + TAG_LEN)
        .ok_or(DecryptError::Malformed)?;
    let (explicit, sealed) = body.split_at_mut(GCM_EXPLICIT_LEN);
    let mut nonce = [0u8; NONCE_LEN];
    let (salt, rest) = nonce.split_at_mut(GCM_SALT_LEN);
    salt.copy_from_slice(&key.iv[..GCM_SALT_LEN]);
    rest.copy_from_slice(explicit);
    let aad = pseudo_header(seq, header, len)?;
    key.key
        .open_in_place(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(aad),
            sealed,
        )
        .map_err(|_| DecryptError::Auth)?;
    Ok((header[0], GCM_EXPLICIT_LEN..GCM_EXPLICIT_LEN + len))
}

/// RFC 7905 §2: body = ciphertext || tag, nonce = iv XOR seq.
fn open_chacha12(
    key: &AeadKey,
    seq: u64,
    header: &[u8; 5],
    body: &mut [u8],
) -> Result<(u8, Range<usize>), DecryptError> {
    let len = body
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(DecryptError::Malformed)?;
    let aad = pseudo_header(seq, header, len)?;
    key.key
        .open_in_place(key.xor_nonce(seq), aead::Aad::from(aad), body)
        .map_err(|_| DecryptError::Auth)?;
    Ok((header[0], 0..len))
}

/// RFC 5246 §6.2.3.2: body = IV || CBC(content || MAC || padding || padding_length);
/// with RFC 7366: body = IV || CBC(content || padding || padding_length) || MAC, the MAC
/// over the IV and ciphertext.
fn open_cbc(
    cbc: &Cbc,
    seq: u64,
    header: &[u8; 5],
    body: &mut [u8],
) -> Result<(u8, Range<usize>), DecryptError> {
    let sealed_len = if cbc.encrypt_then_mac {
        body.len().checked_sub(cbc.mac_len)
    } else {
        Some(body.len())
    }
    .ok_or(DecryptError::Malformed)?;
    let (sealed, received_mac) = body.split_at_mut(sealed_len);
    let (iv, ciphertext) = sealed
        .split_first_chunk_mut::<AES_BLOCK>()
        .ok_or(DecryptError::Malformed)?;
    // At least one block, and room for the MAC and the padding length byte inside it.
    let min = if cbc.encrypt_then_mac {
        1
    } else {
        cbc.mac_len + 1
    };
    if ciphertext.is_empty() || ciphertext.len() % AES_BLOCK != 0 || ciphertext.len() < min {
        return Err(DecryptError::Malformed);
    }
    if cbc.encrypt_then_mac {
        let pseudo = pseudo_header(seq, header, AES_BLOCK + ciphertext.len())?;
        if !cbc.mac.verify(&[&pseudo, iv, ciphertext], received_mac) {
            return Err(DecryptError::Auth);
        }
    }
    cbc.cipher.decrypt(iv, ciphertext);
    // Padding: padding_length + 1 bytes, each equal to padding_length. Under
    // MAC-then-encrypt a wrong key shows here first, so it is an authentication failure.
    let bad_padding = if cbc.encrypt_then_mac {
        DecryptError::Malformed
    } else {
        DecryptError::Auth
    };
    let &pad = ciphertext.last().ok_or(DecryptError::Malformed)?;
    let unpadded = ciphertext
        .len()
        .checked_sub(usize::from(pad) + 1)
        .ok_or(bad_padding)?;
    let (content, padding) = ciphertext.split_at(unpadded);
    if padding.iter().any(|&b| b != pad) {
        return Err(bad_padding);
    }
    let len = if cbc.encrypt_then_mac {
        unpadded
    } else {
        let len = unpadded.checked_sub(cbc.mac_len).ok_or(bad_padding)?;
        let (content, mac) = content.split_at(len);
        if !cbc
            .mac
            .verify(&[&pseudo_header(seq, header, len)?, content], mac)
        {
            return Err(DecryptError::Auth);
        }
        len
    };
    Ok((header[0], AES_BLOCK..AES_BLOCK + len))
}

/// The TLS 1.3 write key and IV of a traffic secret (RFC 8446 §7.3).
fn traffic_key(aead: Aead, hash: Hash, secret: &[u8]) -> Option<AeadKey> {
    let mut key = [0u8; 32];
    let key = key.get_mut(..aead.key_len())?;
    let mut iv = [0u8; NONCE_LEN];
    expand_label(hash, secret, b"key", key)?;
    expand_label(hash, secret, b"iv", &mut iv)?;
    AeadKey::new(aead, key, &iv)
}

/// Longest label HKDF-Expand-Label takes here ("traffic upd").
const MAX_LABEL: usize = 16;
/// The prefix of every TLS 1.3 label (RFC 8446 §7.1).
const LABEL_PREFIX: &[u8] = b"tls13 ";

/// HKDF-Expand-Label(secret, label, "", out.len()) (RFC 8446 §7.1). `None` when the label is
/// too long or the output longer than 255 bytes.
fn expand_label(hash: Hash, secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    if label.len() > MAX_LABEL {
        return None;
    }
    // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
    let mut info = [0u8; 2 + 1 + 6 + MAX_LABEL + 1];
    let length = u16::try_from(out.len()).ok()?.to_be_bytes();
    let full_label_len = u8::try_from(LABEL_PREFIX.len() + label.len()).ok()?;
    let mut n = 0;
    for part in [
        &length[..],
        &[full_label_len],
        LABEL_PREFIX,
        label,
        &[0], // empty context
    ] {
        info.get_mut(n..n + part.len())?.copy_from_slice(part);
        n += part.len();
    }
    hkdf_expand(hash, secret, info.get(..n)?, out)
}

/// HKDF-Expand (RFC 5869 §2.3): T(i) = HMAC(PRK, T(i-1) || info || i).
fn hkdf_expand(hash: Hash, prk: &[u8], info: &[u8], out: &mut [u8]) -> Option<()> {
    let key = hmac::Key::new(hash.hmac(), prk);
    let mut previous: Option<hmac::Tag> = None;
    for (i, chunk) in out.chunks_mut(hash.len()).enumerate() {
        let counter = u8::try_from(i + 1).ok()?;
        let mut ctx = hmac::Context::with_key(&key);
        if let Some(t) = &previous {
            ctx.update(t.as_ref());
        }
        ctx.update(info);
        ctx.update(&[counter]);
        let t = ctx.sign();
        for (d, s) in chunk.iter_mut().zip(t.as_ref()) {
            *d = *s;
        }
        previous = Some(t);
    }
    Some(())
}

/// The TLS 1.2 PRF: P_hash(secret, label || seed), filling `out` (RFC 5246 §5).
fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let key = hmac::Key::new(hash.hmac(), secret);
    // A(1) = HMAC(secret, label || seed); A(i) = HMAC(secret, A(i-1)).
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(label);
    ctx.update(seed);
    let mut a = ctx.sign();
    for chunk in out.chunks_mut(hash.len()) {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(label);
        ctx.update(seed);
        let t = ctx.sign();
        for (d, s) in chunk.iter_mut().zip(t.as_ref()) {
            *d = *s;
        }
        a = hmac::sign(&key, a.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    use proptest::prelude::*;
    use ring::hkdf;

    /// Bytes from hex, ignoring whitespace.
    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert_eq!(digits.len() % 2, 0, "odd hex");
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// Splits a whole record into its header and body.
    fn split(record: &[u8]) -> ([u8; 5], Vec<u8>) {
        let header: [u8; 5] = record[..5].try_into().unwrap();
        assert_eq!(
            usize::from(u16::from_be_bytes([header[3], header[4]])),
            record.len() - 5
        );
        (header, record[5..].to_vec())
    }

    /// Opens a whole record, returning the content type and the plaintext.
    fn open(d: &mut Decryptor, record: &[u8]) -> Result<(u8, Vec<u8>), DecryptError> {
        let (header, mut body) = split(record);
        let (t, range) = d.open(&header, &mut body)?;
        Ok((t, body[range].to_vec()))
    }

    // RFC 8448 §3 "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256).
    const RFC8448_C_HS: &str = "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f
        3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21";
    const RFC8448_S_HS: &str = "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4
        e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38";
    const RFC8448_C_AP: &str = "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52
        87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
    const RFC8448_S_AP: &str = "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32
        82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";

    /// {server} send handshake record: EncryptedExtensions, Certificate, CertificateVerify,
    /// Finished, under the server handshake traffic key, sequence number 0.
    const RFC8448_SERVER_FLIGHT: &str = "
        17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35e
        df7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78
        b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13b
        d9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9
        d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2e
        d65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd61092
        8d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead68694
        5ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b368
        4596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f
        4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26
        f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b65962224531
        7b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e
        1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da
        8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d4
        61e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe
        5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb
        992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c859
        77b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038
        ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b84
        5e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5
        d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e
        750edc53370d2b";
    /// Its payload (657 octets).
    const RFC8448_SERVER_FLIGHT_PAYLOAD: &str = "
        080000240022000a00140012001d00170018001901000101010201030104001c
        00024001000000000b0001b9000001b50001b0308201ac30820115a003020102
        020102300d06092a864886f70d01010b0500300e310c300a0603550403130372
        7361301e170d3136303733303031323335395a170d3236303733303031323335
        395a300e310c300a0603550403130372736130819f300d06092a864886f70d01
        0101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c
        0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19e
        aa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e2
        2a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a
        8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304
        023000300b0603551d0f0404030205a0300d06092a864886f70d01010b050003
        81810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594
        365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd
        335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb
        2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b4
        2b4de100000f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f82
        4cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef78
        0c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671
        459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda
        65cdf5aea20d53dfacd42f74f3140000209b9b141d906337fbd2cbdce71df4de
        da4ab42c309572cb7fffee5454b78f0718";
    /// {server} construct a NewSessionTicket: the first record under the server
    /// application traffic key.
    const RFC8448_SERVER_TICKET: &str = "17 03 03 00 de 3a 6b 8f 90 41 4a 97
        d6 95 9c 34 87 68 0d e5 13 4a 2b 24 0e 6c ff ac 11 6e 95 d4 1d
        6a f8 f6 b5 80 dc f3 d1 1d 63 c7 58 db 28 9a 01 59 40 25 2f 55
        71 3e 06 1d c1 3e 07 88 91 a3 8e fb cf 57 53 ad 8e f1 70 ad 3c
        73 53 d1 6d 9d a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0
        9c 30 ba 1e 62 97 2a c4 6f 75 f7 b9 81 be 63 43 9b 29 99 ce 13
        06 46 15 13 98 91 d5 e4 c5 b4 06 f1 6e 3f c1 81 a7 7c a4 75 84
        00 25 db 2f 0a 77 f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86
        51 9d 86 cb ee ac 87 aa c3 47 d1 43 f9 60 5d 64 f6 50 db 4d 02
        3e 70 e9 52 ca 49 fe 51 37 12 1c 74 bc 26 97 68 7e 24 87 46 d6
        df 35 30 05 f3 bc e1 86 96 12 9c 81 53 55 6b 3b 6c 67 79 b3 7b
        f1 59 85 68 4f";
    /// {client} send application_data record (payload 00 01 .. 31), sequence number 0.
    const RFC8448_CLIENT_DATA: &str = "17 03 03 00 43 a2 3f 70 54 b6 2c 94
        d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc ab 3f 2b
        98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62
        92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4";
    /// {server} send application_data record (the same payload), sequence number 1.
    const RFC8448_SERVER_DATA: &str = "17 03 03 00 43 2e 93 7e 11 ef 4a c7
        40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36 e3
        0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5
        f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d";
    /// {client} send alert record (close_notify), sequence number 1.
    const RFC8448_CLIENT_ALERT: &str = "17 03 03 00 13 c9 87 27 60 65 56 66
        b7 4d 7f f1 15 3e fd 6d b6 d0 b0 e3";
    /// {server} send alert record (close_notify), sequence number 2.
    const RFC8448_SERVER_ALERT: &str = "17 03 03 00 13 b5 8f d6 71 66 eb f5
        99 d2 47 20 cf be 7e fa 7a 88 64 a9";

    const HANDSHAKE: u8 = 22;
    const APPLICATION_DATA: u8 = 23;
    const ALERT: u8 = 21;

    fn aes128_gcm_sha256() -> Suite {
        Suite::of(0x1301).unwrap()
    }

    #[test]
    fn rfc8448_traffic_keys() {
        // (secret, key expanded, iv expanded), as RFC 8448 §3 lists them.
        let cases = [
            (
                RFC8448_S_HS,
                "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc",
                "5d 31 3e b2 67 12 76 ee 13 00 0b 30",
            ),
            (
                RFC8448_C_HS,
                "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01",
                "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f",
            ),
            (
                RFC8448_S_AP,
                "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56",
                "cf 78 2b 88 dd 83 54 9a ad f1 e9 84",
            ),
            (
                RFC8448_C_AP,
                "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51",
                "5b 78 92 3d ee 08 57 90 33 e5 23 d9",
            ),
        ];
        for (secret, key, iv) in cases {
            let secret = hex(secret);
            let mut k = [0u8; 16];
            let mut i = [0u8; 12];
            expand_label(Hash::Sha256, &secret, b"key", &mut k).unwrap();
            expand_label(Hash::Sha256, &secret, b"iv", &mut i).unwrap();
            assert_eq!(k.to_vec(), hex(key));
            assert_eq!(i.to_vec(), hex(iv));
        }
    }

    #[test]
    fn rfc8448_server_handshake_flight() {
        let suite = aes128_gcm_sha256();
        let mut d = Decryptor::tls13(&suite, &hex(RFC8448_S_HS)).unwrap();
        let (t, plain) = open(&mut d, &hex(RFC8448_SERVER_FLIGHT)).unwrap();
        assert_eq!(t, HANDSHAKE);
        assert_eq!(plain, hex(RFC8448_SERVER_FLIGHT_PAYLOAD));
        assert_eq!(plain.len(), 657);
        assert_eq!(d.seq, 1);
        // The same record again is at sequence number 1 now: the nonce differs.
        assert_eq!(
            open(&mut d, &hex(RFC8448_SERVER_FLIGHT)),
            Err(DecryptError::Auth)
        );
        // A wrong key (the client's) fails authentication.
        let mut wrong = Decryptor::tls13(&suite, &hex(RFC8448_C_HS)).unwrap();
        assert_eq!(
            open(&mut wrong, &hex(RFC8448_SERVER_FLIGHT)),
            Err(DecryptError::Auth)
        );
    }

    #[test]
    fn rfc8448_application_records() {
        let suite = aes128_gcm_sha256();
        let data: Vec<u8> = (0..50).collect();

        let mut server = Decryptor::tls13(&suite, &hex(RFC8448_S_AP)).unwrap();
        let (t, ticket) = open(&mut server, &hex(RFC8448_SERVER_TICKET)).unwrap();
        assert_eq!(t, HANDSHAKE);
        assert_eq!(ticket.first(), Some(&4)); // new_session_ticket
        assert_eq!(ticket.len(), 4 + usize::from(ticket[3]));
        assert_eq!(
            open(&mut server, &hex(RFC8448_SERVER_DATA)),
            Ok((APPLICATION_DATA, data.clone()))
        );
        assert_eq!(
            open(&mut server, &hex(RFC8448_SERVER_ALERT)),
            Ok((ALERT, vec![1, 0]))
        );

        let mut client = Decryptor::tls13(&suite, &hex(RFC8448_C_AP)).unwrap();
        assert_eq!(
            open(&mut client, &hex(RFC8448_CLIENT_DATA)),
            Ok((APPLICATION_DATA, data))
        );
        assert_eq!(
            open(&mut client, &hex(RFC8448_CLIENT_ALERT)),
            Ok((ALERT, vec![1, 0]))
        );
    }

    #[test]
    fn skip_advances_the_sequence_number_and_failure_does_not() {
        let suite = aes128_gcm_sha256();
        let mut server = Decryptor::tls13(&suite, &hex(RFC8448_S_AP)).unwrap();
        // The ticket record was lost in a gap; the data record is at sequence number 1.
        server.skip();
        assert_eq!(
            open(&mut server, &hex(RFC8448_SERVER_DATA)).map(|(t, _)| t),
            Ok(APPLICATION_DATA)
        );
        // A damaged record does not consume its sequence number by itself: the alert after
        // it opens once the caller skips it, and not before.
        let mut bad = hex(RFC8448_SERVER_DATA);
        bad[10] ^= 1;
        let mut server = Decryptor::tls13(&suite, &hex(RFC8448_S_AP)).unwrap();
        assert!(open(&mut server, &hex(RFC8448_SERVER_TICKET)).is_ok());
        assert_eq!(open(&mut server, &bad), Err(DecryptError::Auth));
        assert_eq!(
            open(&mut server, &hex(RFC8448_SERVER_ALERT)),
            Err(DecryptError::Auth)
        );
        server.skip();
        assert_eq!(
            open(&mut server, &hex(RFC8448_SERVER_ALERT)),
            Ok((ALERT, vec![1, 0]))
        );
    }

    #[test]
    fn tls13_every_bit_flip_fails_authentication() {
        let suite = aes128_gcm_sha256();
        let record = hex(RFC8448_CLIENT_ALERT);
        for bit in 0..record.len() * 8 {
            let mut bad = record.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let mut d = Decryptor::tls13(&suite, &hex(RFC8448_C_AP)).unwrap();
            d.skip();
            let header: [u8; 5] = bad[..5].try_into().unwrap();
            let mut body = bad[5..].to_vec();
            assert_eq!(
                d.open(&header, &mut body),
                Err(DecryptError::Auth),
                "bit {bit}"
            );
        }
    }

    /// The output length of an HKDF expansion, for ring's API.
    struct Len(usize);

    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }

    /// HKDF-Expand-Label with an empty context, through ring's HKDF rather than ours.
    fn ring_expand_label(alg: hkdf::Algorithm, secret: &[u8], label: &str, len: usize) -> Vec<u8> {
        let full = format!("tls13 {label}");
        let mut info = (len as u16).to_be_bytes().to_vec();
        info.push(full.len() as u8);
        info.extend_from_slice(full.as_bytes());
        info.push(0);
        let prk = hkdf::Prk::new_less_safe(alg, secret);
        let mut out = vec![0u8; len];
        prk.expand(&[&info], Len(len))
            .unwrap()
            .fill(&mut out)
            .unwrap();
        out
    }

    /// Seals a TLS 1.3 record with ring, keys derived through ring's HKDF.
    fn seal13(
        alg: &'static aead::Algorithm,
        hkdf_alg: hkdf::Algorithm,
        secret: &[u8],
        seq: u64,
        inner: &[u8],
    ) -> Vec<u8> {
        let key = ring_expand_label(hkdf_alg, secret, "key", alg.key_len());
        let iv = ring_expand_label(hkdf_alg, secret, "iv", 12);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&iv);
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let len = (inner.len() + 16) as u16;
        let mut record = vec![23, 3, 3];
        record.extend_from_slice(&len.to_be_bytes());
        let header: [u8; 5] = record[..5].try_into().unwrap();
        let mut body = inner.to_vec();
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, &key).unwrap());
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(header),
            &mut body,
        )
        .unwrap();
        record.extend_from_slice(&body);
        record
    }

    #[test]
    fn key_update_follows_the_secret_chain() {
        for (id, alg, hkdf_alg, len) in [
            (0x1301, &aead::AES_128_GCM, hkdf::HKDF_SHA256, 32),
            (0x1302, &aead::AES_256_GCM, hkdf::HKDF_SHA384, 48),
            (0x1303, &aead::CHACHA20_POLY1305, hkdf::HKDF_SHA256, 32),
        ] {
            let suite = Suite::of(id).unwrap();
            let secret0: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(7)).collect();
            let mut d = Decryptor::tls13(&suite, &secret0).unwrap();
            let r0 = seal13(alg, hkdf_alg, &secret0, 0, b"hello\x17");
            assert_eq!(open(&mut d, &r0), Ok((APPLICATION_DATA, b"hello".to_vec())));

            let mut secret = secret0;
            for generation in 1..=3 {
                secret = ring_expand_label(hkdf_alg, &secret, "traffic upd", len);
                assert!(d.key_update());
                assert_eq!(d.seq, 0);
                let State::Tls13 { secret: ours, .. } = &d.state else {
                    panic!("not TLS 1.3")
                };
                assert_eq!(
                    &ours[..len],
                    &secret[..],
                    "{id:04x} generation {generation}"
                );
                // Two records under the new keys, sequence numbers 0 and 1.
                for seq in 0..2 {
                    let r = seal13(alg, hkdf_alg, &secret, seq, b"after\x17");
                    assert_eq!(open(&mut d, &r), Ok((APPLICATION_DATA, b"after".to_vec())));
                }
            }
        }
    }

    #[test]
    fn tls13_inner_plaintext_padding() {
        let secret = [0x42u8; 32];
        let suite = aes128_gcm_sha256();
        let seal = |inner: &[u8]| seal13(&aead::AES_128_GCM, hkdf::HKDF_SHA256, &secret, 0, inner);
        let fresh = || Decryptor::tls13(&suite, &secret).unwrap();
        // content || type || zeros: the zeros and the type are stripped.
        assert_eq!(
            open(&mut fresh(), &seal(b"ab\x16\0\0\0\0")),
            Ok((HANDSHAKE, b"ab".to_vec()))
        );
        // Zeros inside the content are kept.
        assert_eq!(
            open(&mut fresh(), &seal(b"\0a\0\x17\0")),
            Ok((APPLICATION_DATA, b"\0a\0".to_vec()))
        );
        // A type with no content (an empty record of that type).
        assert_eq!(
            open(&mut fresh(), &seal(b"\x17")),
            Ok((APPLICATION_DATA, vec![]))
        );
        // All zeros: no content type at all.
        assert_eq!(
            open(&mut fresh(), &seal(b"\0\0\0")),
            Err(DecryptError::Malformed)
        );
        assert_eq!(open(&mut fresh(), &seal(b"")), Err(DecryptError::Malformed));
        // Shorter than a tag: malformed, and no sequence number used.
        let mut d = fresh();
        for n in 0..TAG_LEN {
            assert_eq!(
                d.open(&[23, 3, 3, 0, n as u8], &mut vec![0; n]),
                Err(DecryptError::Malformed)
            );
        }
        assert_eq!(d.seq, 0);
    }

    #[test]
    fn tls12_prf_known_answers() {
        // The P_SHA256 vector from the IETF TLS mailing list.
        let mut out = [0u8; 100];
        prf(
            Hash::Sha256,
            &hex("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &hex("a0ba9f936cda311827a6f796ffd5198c"),
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            hex(
                "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a
                 6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab
                 4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701
                 87347b66"
            )
        );
        // And its P_SHA384 companion.
        let mut out = [0u8; 148];
        prf(
            Hash::Sha384,
            &hex("b80b733d6ceefcdc71566ea48e5567df"),
            b"test label",
            &hex("cd665cf6a8447dd6ff8b27555edb7465"),
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            hex(
                "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd
                 e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd
                 8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425
                 9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6
                 91c8f3a26854308d5eaa3be85e0990703d73e56f"
            )
        );
    }

    #[derive(Clone, Copy, Debug)]
    enum Family {
        Gcm,
        ChaCha,
        Cbc { mac: Mac, etm: bool },
    }

    /// One direction's keys, cut from the key block as RFC 5246 §6.3 lays it out.
    struct Keys {
        mac: Vec<u8>,
        key: Vec<u8>,
        iv: Vec<u8>,
    }

    /// Both directions' keys (client, server) by the test's own reading of the layout.
    fn key_block(
        hash: Hash,
        master: &[u8],
        cr: &[u8; 32],
        sr: &[u8; 32],
        mac_len: usize,
        key_len: usize,
        iv_len: usize,
    ) -> (Keys, Keys) {
        let mut seed = sr.to_vec();
        seed.extend_from_slice(cr);
        let mut block = vec![0u8; 2 * (mac_len + key_len + iv_len)];
        prf(hash, master, b"key expansion", &seed, &mut block);
        let mut at = 0;
        let mut next = |n: usize| {
            let v = block[at..at + n].to_vec();
            at += n;
            v
        };
        let (cm, sm, ck, sk, ci, si) = (
            next(mac_len),
            next(mac_len),
            next(key_len),
            next(key_len),
            next(iv_len),
            next(iv_len),
        );
        (
            Keys {
                mac: cm,
                key: ck,
                iv: ci,
            },
            Keys {
                mac: sm,
                key: sk,
                iv: si,
            },
        )
    }

    /// Protects one TLS 1.2 record with the crates' encryption APIs.
    fn seal12(
        family: Family,
        keys: &Keys,
        seq: u64,
        content_type: u8,
        plain: &[u8],
        explicit: [u8; 16],
    ) -> Vec<u8> {
        let pseudo = |len: usize| {
            let mut p = seq.to_be_bytes().to_vec();
            p.extend_from_slice(&[content_type, 3, 3]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
            p
        };
        let body = match family {
            Family::Gcm | Family::ChaCha => {
                let alg = match (family, keys.key.len()) {
                    (Family::ChaCha, _) => &aead::CHACHA20_POLY1305,
                    (_, 16) => &aead::AES_128_GCM,
                    _ => &aead::AES_256_GCM,
                };
                let mut nonce = [0u8; 12];
                let mut body = Vec::new();
                if let Family::Gcm = family {
                    nonce[..4].copy_from_slice(&keys.iv);
                    nonce[4..].copy_from_slice(&explicit[..8]);
                    body.extend_from_slice(&explicit[..8]);
                } else {
                    nonce.copy_from_slice(&keys.iv);
                    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                        *n ^= s;
                    }
                }
                let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, &keys.key).unwrap());
                let mut sealed = plain.to_vec();
                key.seal_in_place_append_tag(
                    aead::Nonce::assume_unique_for_key(nonce),
                    aead::Aad::from(pseudo(plain.len())),
                    &mut sealed,
                )
                .unwrap();
                body.extend_from_slice(&sealed);
                body
            }
            Family::Cbc { mac, etm } => {
                let alg = match mac {
                    Mac::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                    Mac::Sha256 => hmac::HMAC_SHA256,
                    Mac::Sha384 => hmac::HMAC_SHA384,
                };
                let mac_key = hmac::Key::new(alg, &keys.mac);
                let mut inner = plain.to_vec();
                if !etm {
                    let mut m = pseudo(plain.len());
                    m.extend_from_slice(plain);
                    inner.extend_from_slice(hmac::sign(&mac_key, &m).as_ref());
                }
                // Some extra padding beyond the minimum, as TLS allows.
                let pad = 15 - inner.len() % 16 + 16;
                inner.extend(std::iter::repeat_n(pad as u8, pad + 1));
                let iv = explicit;
                macro_rules! encrypt {
                    ($aes:ty) => {{
                        let mut enc =
                            cbc::Encryptor::<$aes>::new_from_slices(&keys.key, &iv).unwrap();
                        for block in inner.chunks_exact_mut(16) {
                            enc.encrypt_block_mut(block.into());
                        }
                    }};
                }
                if keys.key.len() == 16 {
                    encrypt!(aes::Aes128Enc)
                } else {
                    encrypt!(aes::Aes256Enc)
                }
                let mut body = iv.to_vec();
                body.extend_from_slice(&inner);
                if etm {
                    let mut m = pseudo(body.len());
                    m.extend_from_slice(&body);
                    body.extend_from_slice(hmac::sign(&mac_key, &m).as_ref());
                }
                body
            }
        };
        let mut record = vec![content_type, 3, 3];
        record.extend_from_slice(&(body.len() as u16).to_be_bytes());
        record.extend_from_slice(&body);
        record
    }

    /// The TLS 1.2 suites of each family the tests cover: (id, family, PRF hash, key length).
    fn tls12_cases() -> Vec<(u16, Family, Hash, usize)> {
        let cbc = |mac, etm| Family::Cbc { mac, etm };
        let mut cases = vec![
            (0xc02f, Family::Gcm, Hash::Sha256, 16), // ECDHE_RSA_WITH_AES_128_GCM_SHA256
            (0xc02c, Family::Gcm, Hash::Sha384, 32), // ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            (0x009d, Family::Gcm, Hash::Sha384, 32), // RSA_WITH_AES_256_GCM_SHA384
            (0xcca8, Family::ChaCha, Hash::Sha256, 32), // ECDHE_RSA_WITH_CHACHA20_POLY1305
            (0xccaa, Family::ChaCha, Hash::Sha256, 32), // DHE_RSA_WITH_CHACHA20_POLY1305
        ];
        for etm in [false, true] {
            cases.extend([
                (0xc013, cbc(Mac::Sha1, etm), Hash::Sha256, 16), // ECDHE_RSA AES_128_CBC_SHA
                (0x0035, cbc(Mac::Sha1, etm), Hash::Sha256, 32), // RSA AES_256_CBC_SHA
                (0xc027, cbc(Mac::Sha256, etm), Hash::Sha256, 16), // .. AES_128_CBC_SHA256
                (0x006b, cbc(Mac::Sha256, etm), Hash::Sha256, 32), // .. AES_256_CBC_SHA256
                (0xc028, cbc(Mac::Sha384, etm), Hash::Sha384, 32), // .. AES_256_CBC_SHA384
            ]);
        }
        cases
    }

    fn layout(family: Family, key_len: usize) -> (usize, usize, usize) {
        match family {
            Family::Gcm => (0, key_len, 4),
            Family::ChaCha => (0, 32, 12),
            Family::Cbc { mac, .. } => (mac.len(), key_len, 0),
        }
    }

    #[test]
    fn tls12_round_trip_every_family() {
        let master: Vec<u8> = (0..48).map(|b| b * 3 + 1).collect();
        let cr = [0x11u8; 32];
        let sr: [u8; 32] = std::array::from_fn(|i| i as u8);
        for (id, family, hash, key_len) in tls12_cases() {
            let suite = Suite::of(id).unwrap();
            assert!(!suite.is_tls13());
            let etm = matches!(family, Family::Cbc { etm: true, .. });
            let (mut client, mut server) =
                Decryptor::tls12(&suite, &master, &cr, &sr, etm).unwrap();
            let (mac_len, key_len, iv_len) = layout(family, key_len);
            let (ck, sk) = key_block(hash, &master, &cr, &sr, mac_len, key_len, iv_len);
            for (d, keys, who) in [(&mut client, &ck, "client"), (&mut server, &sk, "server")] {
                for (seq, len) in [(0u64, 0usize), (1, 1), (2, 300), (3, 16384)] {
                    let plain: Vec<u8> = (0..len).map(|i| (i * 7 + seq as usize) as u8).collect();
                    let explicit = [seq as u8 ^ 0x5a; 16];
                    let record = seal12(family, keys, seq, APPLICATION_DATA, &plain, explicit);
                    assert_eq!(
                        open(d, &record),
                        Ok((APPLICATION_DATA, plain)),
                        "{} {who} seq {seq}",
                        suite.name()
                    );
                }
                // The other direction's record under this key fails.
                let other = if who == "client" { &sk } else { &ck };
                let record = seal12(family, other, 4, ALERT, &[1, 0], [9; 16]);
                assert_eq!(
                    open(d, &record),
                    Err(DecryptError::Auth),
                    "{}",
                    suite.name()
                );
            }
        }
    }

    #[test]
    fn tls12_damaged_and_short_records() {
        let master = [7u8; 48];
        let (cr, sr) = ([1u8; 32], [2u8; 32]);
        for (id, family, hash, key_len) in tls12_cases() {
            let suite = Suite::of(id).unwrap();
            let name = suite.name();
            let etm = matches!(family, Family::Cbc { etm: true, .. });
            let fresh = || Decryptor::tls12(&suite, &master, &cr, &sr, etm).unwrap().0;
            let (mac_len, key_len, iv_len) = layout(family, key_len);
            let (ck, _) = key_block(hash, &master, &cr, &sr, mac_len, key_len, iv_len);
            let record = seal12(family, &ck, 0, HANDSHAKE, b"0123456789abcdefghij", [3; 16]);
            assert_eq!(open(&mut fresh(), &record).map(|r| r.0), Ok(HANDSHAKE));
            // Every flipped bit of the body, and of the header's type and version, fails
            // authentication.
            for bit in (0..3 * 8).chain(5 * 8..record.len() * 8) {
                let mut bad = record.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                let (header, mut body) = (bad[..5].try_into().unwrap(), bad[5..].to_vec());
                assert_eq!(
                    fresh().open(&header, &mut body),
                    Err(DecryptError::Auth),
                    "{name} bit {bit}"
                );
            }
            // Every cut body is malformed or fails authentication, never panics; the
            // shortest are malformed.
            let header: [u8; 5] = record[..5].try_into().unwrap();
            for n in 0..record.len() - 5 {
                let mut body = record[5..5 + n].to_vec();
                let got = fresh().open(&header, &mut body);
                assert!(got.is_err(), "{name} cut to {n}");
                let min = match family {
                    Family::Gcm => 24,
                    Family::ChaCha => 16,
                    Family::Cbc { mac, etm: false } => 16 + (mac.len() + 1).div_ceil(16) * 16,
                    Family::Cbc { mac, etm: true } => 32 + mac.len(),
                };
                if n < min {
                    assert_eq!(got, Err(DecryptError::Malformed), "{name} cut to {n}");
                }
            }
        }
    }

    #[test]
    fn cbc_padding_errors() {
        // A record whose padding is wrong but whose MAC (encrypt-then-MAC) is right is
        // malformed; under MAC-then-encrypt the same mistake is an authentication failure.
        let master = [9u8; 48];
        let (cr, sr) = ([4u8; 32], [5u8; 32]);
        for etm in [false, true] {
            let suite = Suite::of(0xc013).unwrap();
            let (mut d, _) = Decryptor::tls12(&suite, &master, &cr, &sr, etm).unwrap();
            let (ck, _) = key_block(Hash::Sha256, &master, &cr, &sr, 20, 16, 0);
            let mac_key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &ck.mac);
            let iv = [6u8; 16];
            let pseudo = |len: u16| {
                let mut p = 0u64.to_be_bytes().to_vec();
                p.extend_from_slice(&[APPLICATION_DATA, 3, 3]);
                p.extend_from_slice(&len.to_be_bytes());
                p
            };
            // 11 bytes of content, then (MtE) a 20-byte MAC; the padding bytes disagree.
            let mut inner = b"hello world".to_vec();
            if !etm {
                let mut m = pseudo(11);
                m.extend_from_slice(&inner);
                inner.extend_from_slice(hmac::sign(&mac_key, &m).as_ref());
            }
            while inner.len() % 16 != 15 {
                inner.push(3);
            }
            inner.push(4); // says 4 bytes of padding, but fewer are 4
            let mut enc = cbc::Encryptor::<aes::Aes128Enc>::new_from_slices(&ck.key, &iv).unwrap();
            for block in inner.chunks_exact_mut(16) {
                enc.encrypt_block_mut(block.into());
            }
            let mut body = iv.to_vec();
            body.extend_from_slice(&inner);
            if etm {
                let mut m = pseudo(body.len() as u16);
                m.extend_from_slice(&body);
                body.extend_from_slice(hmac::sign(&mac_key, &m).as_ref());
            }
            let header = [APPLICATION_DATA, 3, 3, 0, body.len() as u8];
            let want = if etm {
                DecryptError::Malformed
            } else {
                DecryptError::Auth
            };
            assert_eq!(d.open(&header, &mut body), Err(want), "etm {etm}");
        }
    }

    #[test]
    fn suites() {
        for (id, name, tls13) in [
            (0x1301, "TLS_AES_128_GCM_SHA256", true),
            (0x1302, "TLS_AES_256_GCM_SHA384", true),
            (0x1303, "TLS_CHACHA20_POLY1305_SHA256", true),
            (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false),
            (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", false),
            (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", false),
            (0x00ab, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", false),
            (
                0xcca9,
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                false,
            ),
            (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", false),
            (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", false),
            (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", false),
            (0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", false),
        ] {
            let s = Suite::of(id).unwrap_or_else(|| panic!("{id:04x}"));
            assert_eq!((s.id(), s.name(), s.is_tls13()), (id, name, tls13));
        }
        assert_eq!(Suite::of(0xc030).unwrap().hash, Hash::Sha384);
        assert_eq!(Suite::of(0xc02f).unwrap().hash, Hash::Sha256);
        assert_eq!(Suite::of(0x002f).unwrap().hash, Hash::Sha256);
        for id in [
            0x0000, // TLS_NULL_WITH_NULL_NULL
            0x0002, // TLS_RSA_WITH_NULL_SHA
            0x0005, // TLS_RSA_WITH_RC4_128_SHA
            0x000a, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
            0x0041, // TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
            0xc09c, // TLS_RSA_WITH_AES_128_CCM
            0xc0a0, // TLS_RSA_WITH_AES_128_CCM_8
            0x1304, // TLS_AES_128_CCM_SHA256
            0x1305, // TLS_AES_128_CCM_8_SHA256
            0xc050, // TLS_RSA_WITH_ARIA_128_GCM_SHA256
            0xfefe, // unassigned
        ] {
            assert_eq!(Suite::of(id), None, "{id:04x}");
        }
    }

    #[test]
    fn wrong_secrets_give_none() {
        let s12 = Suite::of(0xc02f).unwrap();
        let s13 = aes128_gcm_sha256();
        let r = [0u8; 32];
        assert!(Decryptor::tls12(&s12, &[0; 47], &r, &r, false).is_none());
        assert!(Decryptor::tls12(&s12, &[0; 49], &r, &r, false).is_none());
        assert!(Decryptor::tls12(&s13, &[0; 48], &r, &r, false).is_none());
        assert!(Decryptor::tls13(&s12, &[0; 32]).is_none());
        assert!(Decryptor::tls13(&s13, &[0; 48]).is_none());
        assert!(Decryptor::tls13(&Suite::of(0x1302).unwrap(), &[0; 32]).is_none());
        let (mut d, _) = Decryptor::tls12(&s12, &[0; 48], &r, &r, false).unwrap();
        assert!(!d.key_update());
        assert!(format!("{d:?}").contains("TLS 1.2 AES-GCM"));
    }

    #[test]
    fn decryptor_stays_small() {
        // The caller boxes one per direction; the CBC keys are boxed inside.
        // 640 bytes on x86_64: ring's AES-GCM key (544), the IV and the TLS 1.3 secret.
        assert!(std::mem::size_of::<Decryptor>() <= 704);
    }

    /// Every suite the module supports, for the no-panic property.
    const SUPPORTED: [u16; 11] = [
        0x1301, 0x1302, 0x1303, 0xc02f, 0xc030, 0xcca8, 0xc013, 0x0035, 0xc027, 0x006b, 0xc028,
    ];

    proptest! {
        #[test]
        fn open_never_panics(
            suite in prop::sample::select(SUPPORTED.to_vec()),
            secret in prop::collection::vec(any::<u8>(), 48),
            randoms in any::<([u8; 32], [u8; 32])>(),
            etm in any::<bool>(),
            header in any::<[u8; 5]>(),
            bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..4),
            update in any::<bool>(),
        ) {
            let suite = Suite::of(suite).unwrap();
            let mut d = if suite.is_tls13() {
                Decryptor::tls13(&suite, &secret[..suite.hash.len()]).unwrap()
            } else {
                Decryptor::tls12(&suite, &secret, &randoms.0, &randoms.1, etm).unwrap().1
            };
            if update {
                prop_assert_eq!(d.key_update(), suite.is_tls13());
            }
            for mut body in bodies {
                let len = body.len();
                if let Ok((_, range)) = d.open(&header, &mut body) {
                    prop_assert!(range.end <= len);
                }
            }
        }
    }
}
