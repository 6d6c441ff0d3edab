//! `Decryptor::open` throughput, in plaintext bytes per second, for the AEAD suites of TLS 1.3
//! and 1.2 and one CBC suite, on full 16 KiB records and on 512-byte ones (the size of a
//! typical WebSocket message record). Records are sealed once, at run time, with ring and
//! RustCrypto directly; each measured open works on a fresh copy of one of them.
//! Run: `cargo bench --bench decrypt`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes::cipher::{BlockEncryptMut, KeyIvInit};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ring::{aead, hkdf, hmac};

use wsclose::tls::crypto::{Decryptor, Suite};

/// Records sealed per suite and size, at sequence numbers 0, 1, ...; a fresh decryptor
/// opens them in order, outside the timed part.
const RECORDS: usize = 64;
const APPLICATION_DATA: u8 = 23;
const SIZES: [usize; 2] = [16384, 512];

/// A protected record: header and body.
struct Record {
    header: [u8; 5],
    body: Vec<u8>,
}

fn record(content_type: u8, body: Vec<u8>) -> Record {
    let len = u16::try_from(body.len()).expect("record length");
    let [hi, lo] = len.to_be_bytes();
    Record {
        header: [content_type, 3, 3, hi, lo],
        body,
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", len) (RFC 8446 §7.1).
fn expand_label(alg: hkdf::Algorithm, secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let mut info = u16::try_from(len).expect("len").to_be_bytes().to_vec();
    info.push(u8::try_from(full.len()).expect("label"));
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0u8; len];
    hkdf::Prk::new_less_safe(alg, secret)
        .expand(&[&info], Len(len))
        .expect("expand")
        .fill(&mut out)
        .expect("fill");
    out
}

/// The TLS 1.2 PRF (RFC 5246 §5).
fn prf(alg: hmac::Algorithm, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(alg, secret);
    let label_seed = [label, seed].concat();
    let mut a = hmac::sign(&key, &label_seed);
    let mut out = Vec::new();
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, a.as_ref());
    }
    out.truncate(len);
    out
}

fn seal_aead(
    alg: &'static aead::Algorithm,
    key: &[u8],
    nonce: [u8; 12],
    aad: &[u8],
    data: &mut Vec<u8>,
) {
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, key).expect("key"));
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::from(aad),
        data,
    )
    .expect("seal");
}

fn xor_seq(iv: &[u8], seq: u64) -> [u8; 12] {
    let mut n: [u8; 12] = iv.try_into().expect("iv");
    for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
        *b ^= s;
    }
    n
}

fn pseudo_header(seq: u64, len: usize) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend_from_slice(&[APPLICATION_DATA, 3, 3]);
    p.extend_from_slice(&u16::try_from(len).expect("len").to_be_bytes());
    p
}

/// TLS 1.3 records of `size` content bytes, and a decryptor for them.
fn tls13(id: u16, size: usize) -> (Suite, Vec<u8>, Vec<Record>) {
    let (alg, hkdf_alg, hash_len) = match id {
        0x1301 => (&aead::AES_128_GCM, hkdf::HKDF_SHA256, 32),
        0x1302 => (&aead::AES_256_GCM, hkdf::HKDF_SHA384, 48),
        _ => (&aead::CHACHA20_POLY1305, hkdf::HKDF_SHA256, 32),
    };
    let secret = vec![0x5a; hash_len];
    let key = expand_label(hkdf_alg, &secret, "key", alg.key_len());
    let iv = expand_label(hkdf_alg, &secret, "iv", 12);
    let records = (0..RECORDS as u64)
        .map(|seq| {
            let mut inner = vec![0x41; size];
            inner.push(APPLICATION_DATA);
            let len = inner.len() + alg.tag_len();
            let header = record(APPLICATION_DATA, vec![0; len]).header;
            seal_aead(alg, &key, xor_seq(&iv, seq), &header, &mut inner);
            record(APPLICATION_DATA, inner)
        })
        .collect();
    (Suite::of(id).expect("suite"), secret, records)
}

const MASTER: [u8; 48] = [7; 48];
const CLIENT_RANDOM: [u8; 32] = [1; 32];
const SERVER_RANDOM: [u8; 32] = [2; 32];

/// TLS 1.2 records of `size` content bytes, client to server.
fn tls12(id: u16, size: usize) -> (Suite, Vec<Record>) {
    let seed = [SERVER_RANDOM, CLIENT_RANDOM].concat();
    let records = match id {
        // ECDHE_RSA_WITH_AES_128_GCM_SHA256, ECDHE_RSA_WITH_AES_256_GCM_SHA384
        0xc02f | 0xc030 => {
            let (alg, prf_alg, key_len) = if id == 0xc02f {
                (&aead::AES_128_GCM, hmac::HMAC_SHA256, 16)
            } else {
                (&aead::AES_256_GCM, hmac::HMAC_SHA384, 32)
            };
            let block = prf(prf_alg, &MASTER, b"key expansion", &seed, 2 * key_len + 8);
            let (key, salt) = (&block[..key_len], &block[2 * key_len..2 * key_len + 4]);
            (0..RECORDS as u64)
                .map(|seq| {
                    let explicit = seq.to_be_bytes();
                    let nonce: [u8; 12] = [salt, &explicit].concat().try_into().expect("nonce");
                    let mut data = vec![0x41; size];
                    seal_aead(alg, key, nonce, &pseudo_header(seq, size), &mut data);
                    record(APPLICATION_DATA, [&explicit[..], &data].concat())
                })
                .collect()
        }
        // ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        0xcca8 => {
            let block = prf(hmac::HMAC_SHA256, &MASTER, b"key expansion", &seed, 88);
            let (key, iv) = (&block[..32], &block[64..76]);
            (0..RECORDS as u64)
                .map(|seq| {
                    let mut data = vec![0x41; size];
                    let aad = pseudo_header(seq, size);
                    seal_aead(
                        &aead::CHACHA20_POLY1305,
                        key,
                        xor_seq(iv, seq),
                        &aad,
                        &mut data,
                    );
                    record(APPLICATION_DATA, data)
                })
                .collect()
        }
        // ECDHE_RSA_WITH_AES_128_CBC_SHA, MAC-then-encrypt
        _ => {
            let block = prf(hmac::HMAC_SHA256, &MASTER, b"key expansion", &seed, 72);
            let (mac_key, key) = (&block[..20], &block[40..56]);
            let mac_key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, mac_key);
            (0..RECORDS as u64)
                .map(|seq| {
                    let mut inner = vec![0x41; size];
                    let mut m = pseudo_header(seq, size);
                    m.extend_from_slice(&inner);
                    inner.extend_from_slice(hmac::sign(&mac_key, &m).as_ref());
                    let pad = 15 - inner.len() % 16;
                    inner.extend(std::iter::repeat_n(pad as u8, pad + 1));
                    let iv = [seq as u8; 16];
                    let mut enc =
                        cbc::Encryptor::<aes::Aes128Enc>::new_from_slices(key, &iv).expect("cbc");
                    for b in inner.chunks_exact_mut(16) {
                        enc.encrypt_block_mut(b.into());
                    }
                    record(APPLICATION_DATA, [&iv[..], &inner].concat())
                })
                .collect()
        }
    };
    (Suite::of(id).expect("suite"), records)
}

/// Times opening `records` in order with decryptors from `fresh`, `iters` records in all.
fn time_opens(iters: u64, records: &[Record], fresh: &dyn Fn() -> Decryptor) -> Duration {
    let mut work = vec![0u8; records.iter().map(|r| r.body.len()).max().unwrap_or(0)];
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let mut d = fresh();
        let n = left.min(RECORDS as u64) as usize;
        let start = Instant::now();
        for r in &records[..n] {
            let body = &mut work[..r.body.len()];
            body.copy_from_slice(&r.body);
            let opened = d.open(&r.header, body);
            debug_assert!(opened.is_ok());
            black_box(opened).ok();
        }
        total += start.elapsed();
        left -= n as u64;
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("open");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        for (id, name) in [
            (0x1301, "tls13-aes128gcm"),
            (0x1302, "tls13-aes256gcm"),
            (0x1303, "tls13-chacha20poly1305"),
        ] {
            let (suite, secret, records) = tls13(id, size);
            let fresh = || Decryptor::tls13(&suite, &secret).expect("decryptor");
            check(&records, &fresh, name);
            g.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_custom(|iters| time_opens(iters, &records, &fresh))
            });
        }
        for (id, name) in [
            (0xc02f, "tls12-aes128gcm"),
            (0xc030, "tls12-aes256gcm"),
            (0xcca8, "tls12-chacha20poly1305"),
            (0xc013, "tls12-aes128cbc-sha1"),
        ] {
            let (suite, records) = tls12(id, size);
            let fresh = || {
                Decryptor::tls12(&suite, &MASTER, &CLIENT_RANDOM, &SERVER_RANDOM, false)
                    .expect("decryptor")
                    .0
            };
            check(&records, &fresh, name);
            g.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_custom(|iters| time_opens(iters, &records, &fresh))
            });
        }
    }
    g.finish();
}

/// Every record opens before any is timed: a number for records that fail would be wrong.
fn check(records: &[Record], fresh: &dyn Fn() -> Decryptor, name: &str) {
    let mut d = fresh();
    for (seq, r) in records.iter().enumerate() {
        let mut body = r.body.clone();
        let (t, range) = d
            .open(&r.header, &mut body)
            .unwrap_or_else(|e| panic!("{name}: record {seq}: {e}"));
        assert_eq!(
            (t, body[range].iter().all(|&b| b == 0x41)),
            (APPLICATION_DATA, true)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
