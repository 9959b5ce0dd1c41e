//! Where values come from: the [`SecretSource`] seam.
//!
//! The agent reads values in two places only: when a deliverer needs the
//! value of a secret, and when it builds the scrubber from every value it
//! knows. Both go through this trait, so a second source (a team's OpenBao
//! or Vault cluster, read on demand) plugs in beside the local vault
//! without touching the rest of the agent. Metadata (names, rules) stays
//! in the local vault, which records where each value lives: the vault
//! answers for the values it holds, [`crate::remote::Remote`] for those it
//! reads from a team's server.

use claulock_proto::{Error, SecretBytes};
use claulock_vault::Vault;

/// A place the agent reads values from.
pub trait SecretSource {
    /// The current value of secret `name`, if this source holds it.
    ///
    /// # Errors
    ///
    /// When the source cannot answer (a remote source that is down): the
    /// command is then refused, never run with a stale or empty value.
    fn value(&self, name: &str) -> Result<Option<SecretBytes>, Error>;

    /// Calls `each` with every value this source knows, current and
    /// superseded, and its secret's name: the scrubber's dictionary.
    fn each_value(&self, each: &mut dyn FnMut(&str, &[u8]));
}

/// The values the vault holds. A source-backed secret's value is not one
/// of them (its record's own value is empty and never used), and a
/// source's token is no secret's value: it is in the dictionary, scrubbed
/// like one, under the source's name, but no lookup by a secret's name
/// returns it.
impl SecretSource for Vault {
    fn value(&self, name: &str) -> Result<Option<SecretBytes>, Error> {
        Ok(self
            .get(name)
            .filter(|s| s.meta.remote.is_none() && !s.value.expose().is_empty())
            .map(|s| SecretBytes::from(s.value.expose())))
    }

    fn each_value(&self, each: &mut dyn FnMut(&str, &[u8])) {
        for s in self.secrets() {
            if !s.value.expose().is_empty() {
                each(&s.name, s.value.expose());
            }
            for old in &s.superseded {
                each(&s.name, old.value.expose());
            }
        }
        for s in self.sources() {
            each(&format!("SOURCE_{}", s.name), s.token.expose());
        }
    }
}
