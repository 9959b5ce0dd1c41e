//! Sources of values outside the local vault (a team's OpenBao or Vault
//! server) as the protocol carries them: [`SourceSpec`] (what `source add`
//! asks for), [`SourceInfo`] (what `source list` shows), [`TokenCheck`]
//! (what `source test` found) and [`RemoteRef`] (what `add --from` names).
//! None has a field for a token or a value.

use serde::{Deserialize, Serialize};

/// A server to read values from, as `claulock source add` gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// `openbao` or `vault` (both speak the same API).
    pub kind: String,
    /// The server's address: `https://HOST[:PORT]` (plain `http://` only
    /// for a loopback address, where no network carries the token).
    pub url: String,
    /// The namespace the requests go to, if any.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Extra root certificates (PEM text, not a path: the file is read
    /// once, by the human's command, and sealed with the source).
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// The AppRole role id when the agent logs in with AppRole (the
    /// request's secret is then the secret id, not a token).
    #[serde(default)]
    pub approle_role_id: Option<String>,
}

/// A source as every interface shows it: never its token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SourceInfo {
    /// Its name.
    pub name: String,
    /// `openbao` or `vault`.
    pub kind: String,
    /// The server's address.
    pub url: String,
    /// The namespace, if any.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Whether extra root certificates were given for it.
    #[serde(default)]
    pub custom_ca: bool,
    /// How the agent authenticates (`token` or `approle`).
    pub auth: String,
    /// When it was added (RFC 3339, UTC).
    #[serde(default)]
    pub created: Option<String>,
    /// The secrets whose values are read from it.
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// What the server said of the source's token (`auth/token/lookup-self`),
/// never the token itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCheck {
    /// The token's display name.
    #[serde(default)]
    pub display_name: String,
    /// Its policies.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Seconds it has left (0: it does not expire).
    #[serde(default)]
    pub ttl_secs: u64,
    /// Whether it can be renewed.
    #[serde(default)]
    pub renewable: bool,
}

/// A value read from a source: `SOURCE:PATH#FIELD`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRef {
    /// The source's name.
    pub source: String,
    /// The path as `bao kv get` takes it (`secret/app`).
    pub path: String,
    /// The field.
    pub field: String,
    /// How long the agent keeps a value it read (`None`: 5 minutes).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

impl RemoteRef {
    /// Parses `SOURCE:PATH#FIELD`.
    ///
    /// # Errors
    ///
    /// A part is missing or empty.
    ///
    /// ```
    /// let r = claulock_proto::RemoteRef::parse("team:secret/app#password").unwrap();
    /// assert_eq!((r.source.as_str(), r.path.as_str(), r.field.as_str()), ("team", "secret/app", "password"));
    /// assert!(claulock_proto::RemoteRef::parse("team:secret/app").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<RemoteRef, String> {
        let bad = || format!("{text:?} is not SOURCE:PATH#FIELD (e.g. team:secret/app#password)");
        let (source, rest) = text.split_once(':').ok_or_else(bad)?;
        let (path, field) = rest.rsplit_once('#').ok_or_else(bad)?;
        let path = path.trim_matches('/');
        if source.is_empty() || path.is_empty() || field.is_empty() {
            return Err(bad());
        }
        Ok(RemoteRef {
            source: source.to_owned(),
            path: path.to_owned(),
            field: field.to_owned(),
            ttl_secs: None,
        })
    }
}
