//! Which keys open a session's records: the secrets a key log gives for the session's
//! client random, turned into one `Keys` per direction. TLS 1.2 has one set of keys per
//! direction from the master secret; TLS 1.3 has the handshake keys first and the
//! application keys after the direction's Finished (or, when the key log lacks the
//! handshake secrets, from the first record they open).

use std::fmt;

use crate::tls::crypto::{DecryptError, Decryptor, Suite};
use crate::tls::keylog::{KeyLog, SessionSecrets};
use crate::tls::{CipherSuite, TlsVersion, Version};

/// Why a session's records cannot be decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// No key log was given and the capture embeds none.
    NoKeyLog,
    /// The key log has no line for this session's client random.
    NoSecret,
    /// The key log has lines for this session but not the ones its version needs.
    IncompleteSecrets,
    /// The cipher suite is not one wsclose decrypts.
    UnsupportedCipher,
    /// TLS 1.0 or 1.1 (or SSL 3): another key derivation, not decrypted.
    UnsupportedVersion,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Missing::NoKeyLog => "no key log given (--keylog) and none embedded in the capture",
            Missing::NoSecret => "the key log has no line for this session's client random",
            Missing::IncompleteSecrets => {
                "the key log has lines for this session, but not the traffic secrets it needs"
            }
            Missing::UnsupportedCipher => "wsclose does not decrypt this cipher suite",
            Missing::UnsupportedVersion => "wsclose decrypts TLS 1.2 and 1.3 only",
        })
    }
}

/// What is known of a session when its ServerHello arrives.
pub struct Hellos<'a> {
    pub client_random: &'a [u8; 32],
    pub server_random: &'a [u8; 32],
    pub cipher: CipherSuite,
    pub version: Version,
    pub encrypt_then_mac: bool,
}

/// The keys of both directions: (client's records, server's records). A TLS 1.3 key log
/// may hold only some of the session's secrets (a failed handshake has no application
/// secrets): the records they open are read, the others stay unread (`Keys::complete`).
pub fn session_keys(keylog: Option<&KeyLog>, hellos: &Hellos<'_>) -> Result<(Keys, Keys), Missing> {
    let keylog = keylog.ok_or(Missing::NoKeyLog)?;
    let secrets = keylog.get(hellos.client_random).ok_or(Missing::NoSecret)?;
    let tls13 = hellos.version.is_tls13();
    if !tls13 && hellos.version.0 != TlsVersion::Tls12 {
        return Err(Missing::UnsupportedVersion);
    }
    let suite = Suite::of(hellos.cipher.0 .0).ok_or(Missing::UnsupportedCipher)?;
    if tls13 {
        tls13_keys(&suite, secrets)
    } else {
        let master = secrets
            .master
            .as_deref()
            .ok_or(Missing::IncompleteSecrets)?;
        let (client, server) = Decryptor::tls12(
            &suite,
            master,
            hellos.client_random,
            hellos.server_random,
            hellos.encrypt_then_mac,
        )
        .ok_or(Missing::IncompleteSecrets)?;
        Ok((Keys::now(client), Keys::now(server)))
    }
}

fn tls13_keys(suite: &Suite, s: &SessionSecrets) -> Result<(Keys, Keys), Missing> {
    let key = |secret: &Option<Box<[u8]>>| {
        secret
            .as_deref()
            .and_then(|secret| Decryptor::tls13(suite, secret))
    };
    let client = (key(&s.client_handshake), key(&s.client_traffic));
    let server = (key(&s.server_handshake), key(&s.server_traffic));
    let any = |(h, a): &(Option<Decryptor>, Option<Decryptor>)| h.is_some() || a.is_some();
    if !any(&client) && !any(&server) {
        return Err(Missing::IncompleteSecrets);
    }
    Ok((
        Keys::later(client.0, client.1),
        Keys::later(server.0, server.1),
    ))
}

/// What opening a record gave.
pub enum Opened {
    /// The real content type and the plaintext's range in the record body.
    Plain(u8, std::ops::Range<usize>),
    /// The keys for this part of the handshake are missing (TLS 1.3 without handshake
    /// secrets): the record stays unread, and that is expected.
    Unreadable,
    /// The record failed to open with the keys that should open it.
    Failed(DecryptError),
}

/// One direction's record keys.
pub struct Keys {
    current: Option<Box<Decryptor>>,
    /// TLS 1.3: the application keys, waiting for the direction's Finished.
    next: Option<Box<Decryptor>>,
    /// TLS 1.3 without the application secret: nothing opens after the Finished.
    handshake_only: bool,
}

impl Keys {
    fn now(d: Decryptor) -> Keys {
        Keys {
            current: Some(Box::new(d)),
            next: None,
            handshake_only: false,
        }
    }

    fn later(handshake: Option<Decryptor>, app: Option<Decryptor>) -> Keys {
        Keys {
            current: handshake.map(Box::new),
            handshake_only: app.is_none(),
            next: app.map(Box::new),
        }
    }

    /// Bytes the keys hold (key schedules of a few hundred bytes each): counted in the
    /// capture-wide buffer budget like the records in progress.
    pub fn size(&self) -> usize {
        let live = usize::from(self.current.is_some()) + usize::from(self.next.is_some());
        std::mem::size_of::<Keys>() + live * std::mem::size_of::<Decryptor>()
    }

    /// Keys for every record of the direction (TLS 1.3: the application secret too).
    pub fn complete(&self) -> bool {
        !self.handshake_only
    }

    /// Opens one record in place (`header` as on the wire).
    pub fn open(&mut self, header: &[u8; 5], body: &mut [u8]) -> Opened {
        // While the application keys wait, a record that does not open with the current
        // ones is tried with them: the direction may have moved on without its Finished
        // being read (lost in a gap, or no handshake secrets). A failed attempt leaves the
        // body undefined, so the ciphertext is kept for the second one.
        if self.current.is_none() && self.next.is_none() {
            return Opened::Unreadable;
        }
        let saved = self.next.is_some().then(|| body.to_vec());
        if let Some(cur) = self.current.as_mut() {
            match cur.open(header, body) {
                Ok((t, range)) => return Opened::Plain(t, range),
                Err(e) if saved.is_none() => return Opened::Failed(e),
                Err(_) => {}
            }
        }
        let (Some(next), Some(saved)) = (self.next.as_mut(), saved) else {
            return Opened::Failed(DecryptError::Auth);
        };
        body.copy_from_slice(&saved);
        match next.open(header, body) {
            Ok((t, range)) => {
                self.current = self.next.take();
                Opened::Plain(t, range)
            }
            Err(_) if self.current.is_none() => Opened::Unreadable,
            Err(e) => Opened::Failed(e),
        }
    }

    /// TLS 1.3: this direction sent its Finished; its next record uses the application
    /// keys.
    pub fn finished(&mut self) {
        self.current = self.next.take();
    }

    /// TLS 1.3 KeyUpdate sent by this direction: its next record uses the next keys.
    pub fn key_update(&mut self) -> bool {
        self.current.as_mut().is_some_and(|d| d.key_update())
    }

    /// A record lost to a capture gap.
    pub fn skip(&mut self) {
        if let Some(cur) = self.current.as_mut() {
            cur.skip();
        }
    }
}
