//! Where credentials sit in the files a developer already has, and how
//! each file reads once its values are gone.
//!
//! Each kind of file has its consumer (a dotenv loader, npm, git, twine,
//! docker, gh), and the rewrite leaves what that consumer understands:
//!
//! | file | found | after `--rewrite` |
//! |---|---|---|
//! | dotenv (`.env*`, any other file) | entries whose name or value looks like a credential | `KEY={{KEY}}` (run the program with `claulock exec --env-file`) |
//! | `.npmrc` | `…:_authToken=` | `${NPM_TOKEN}` (npm expands environment variables) |
//! | `.git-credentials` | `https://user:token@host` | the line removed; a ClauLock git credential helper for the host |
//! | `.netrc` | `machine H … password P` | the password removed; the helper for the host |
//! | `.pypirc` | `password =` in a section | the line removed (twine takes `TWINE_PASSWORD`) |
//! | `.docker/config.json` | `auths.*.auth` | the `auth` field removed |
//! | `gh/hosts.yml` | `oauth_token:` | the line removed (gh takes `GH_TOKEN`) |
//!
//! Hand-written rather than a parser per format (dotenvy, an INI, a YAML
//! crate): a rewrite must change only the bytes of a value and keep every
//! other byte of the file (comments, order, layout), which parsers that
//! re-serialize do not do. The formats' credential lines are simple.

use std::ops::Range;
use std::path::Path;

use zeroize::Zeroizing;

/// What kind of file a path is, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dotenv,
    Npmrc,
    GitCredentials,
    Netrc,
    Pypirc,
    DockerConfig,
    GhHosts,
}

impl Kind {
    pub(crate) fn of(path: &Path) -> Kind {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let parent = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("");
        match (parent, name) {
            (_, ".npmrc" | "npmrc") => Kind::Npmrc,
            (_, ".git-credentials") => Kind::GitCredentials,
            (_, ".netrc" | "_netrc") => Kind::Netrc,
            (_, ".pypirc") => Kind::Pypirc,
            (".docker", "config.json") => Kind::DockerConfig,
            ("gh", "hosts.yml") => Kind::GhHosts,
            _ => Kind::Dotenv,
        }
    }

    /// The files of this user's home that `import` reads without being
    /// told (dotenv files are named on the command line).
    pub(crate) fn home_files(home: &Path) -> Vec<std::path::PathBuf> {
        [
            ".npmrc",
            ".git-credentials",
            ".netrc",
            ".pypirc",
            ".docker/config.json",
            ".config/gh/hosts.yml",
        ]
        .iter()
        .map(|f| home.join(f))
        .collect()
    }
}

/// A credential found in a file. Its `Debug` shows no value.
pub(crate) struct Found {
    /// What it is, as the user knows it (`API_TOKEN`, `machine github.com`).
    pub label: String,
    /// The vault name it gets unless its value is there already.
    pub name: String,
    pub value: Zeroizing<Vec<u8>>,
    /// The hosts it is for, when the file says.
    pub hosts: Vec<String>,
    /// The programs that read it from this file: the ones it may be given
    /// to (a secret with hosts needs them, or commands that name no URL,
    /// `npm whoami`, are refused).
    pub programs: &'static [&'static str],
    /// The user name that goes with it (git's credential helper answers it).
    pub user: Option<String>,
    /// The bytes the rewrite changes, and how.
    pub edit: Edit,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("label", &self.label)
            .field("name", &self.name)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// How a rewrite takes a value out of its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    /// Replace these bytes with the placeholder, written as
    /// `{{NAME}}` (`Placeholder`) or `${NAME}` (`EnvReference`).
    Placeholder(Range<usize>),
    EnvReference(Range<usize>),
    /// Remove these bytes (a line, a `password P` pair).
    Remove(Range<usize>),
    /// Remove the `auth` field of this registry (a JSON file is written
    /// again whole).
    DockerAuth(String),
    /// Nothing to rewrite (a variable of the environment).
    None,
}

/// Why a candidate was left alone (never because of anything its value says
/// beyond its length).
pub(crate) struct Skipped {
    pub label: String,
    pub why: &'static str,
}

/// A file's credentials, and what was left alone.
#[derive(Default)]
pub(crate) struct Findings {
    pub found: Vec<Found>,
    pub skipped: Vec<Skipped>,
}

/// The shortest value the vault takes (the scrubber's minimum).
const MIN_LEN: usize = claulock_scrub::DEFAULT_MIN_SECRET_LEN;

impl Findings {
    fn push(&mut self, f: Found) {
        if f.value.len() < MIN_LEN {
            self.skipped.push(Skipped {
                label: f.label,
                why: "shorter than 8 bytes: too short to mask safely (change it for a longer one, then import)",
            });
        } else if claulock_runtime::shell::has_placeholders(&String::from_utf8_lossy(&f.value)) {
            self.skipped.push(Skipped {
                label: f.label,
                why: "a placeholder already",
            });
        } else {
            self.found.push(f);
        }
    }
}

/// The credentials in `text`, a file of `kind`.
///
/// # Errors
///
/// When the file cannot be read as its kind (the message names a line,
/// never a value).
pub(crate) fn find(kind: Kind, text: &str) -> anyhow::Result<Findings> {
    let mut out = Findings::default();
    match kind {
        Kind::Dotenv => dotenv(text, &mut out)?,
        Kind::Npmrc => npmrc(text, &mut out),
        Kind::GitCredentials => git_credentials(text, &mut out),
        Kind::Netrc => netrc(text, &mut out),
        Kind::Pypirc => pypirc(text, &mut out),
        Kind::DockerConfig => docker(text, &mut out)?,
        Kind::GhHosts => gh_hosts(text, &mut out),
    }
    Ok(out)
}

/// A name's words that say it holds a credential.
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "KEY",
    "APIKEY",
    "PRIVATE",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "DSN",
    "WEBHOOK",
    "COOKIE",
    "SESSION",
    "SIGNATURE",
    "SALT",
];

/// Whether `name` (`API_TOKEN`, `db.password`) names a credential.
pub(crate) fn secret_name(name: &str) -> bool {
    name.to_ascii_uppercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| SECRET_WORDS.contains(&w) || w.ends_with("TOKEN") || w.ends_with("KEY"))
}

/// Whether `value` looks like a credential by its shape alone: a known
/// token format, or a URL with a password.
pub(crate) fn secret_shape(value: &str) -> bool {
    let shapes = claulock_runtime::prompt::token_shapes(value);
    shapes.iter().any(|s| s.span.len() * 2 >= value.len()) || url_password(value).is_some()
}

/// The password of a URL's userinfo (`scheme://user:pass@host`).
fn url_password(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pass) = userinfo.split_once(':')?;
    (!pass.is_empty()).then_some(pass)
}

fn dotenv(text: &str, out: &mut Findings) -> anyhow::Result<()> {
    for e in crate::dotenv::entries(text)? {
        let shown = String::from_utf8_lossy(&e.value);
        if e.value.is_empty() {
            continue;
        }
        if !(secret_name(&e.name) || secret_shape(&shown)) {
            out.skipped.push(Skipped {
                label: e.name,
                why: "neither its name nor its value looks like a credential",
            });
            continue;
        }
        out.push(Found {
            name: vault_name(&e.name),
            label: e.name,
            value: Zeroizing::new(e.value),
            hosts: Vec::new(),
            programs: &[],
            user: None,
            edit: Edit::Placeholder(e.span),
        });
    }
    Ok(())
}

/// Lines of `text` with their byte ranges (the newline included).
fn lines(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut at = 0;
    text.split_inclusive('\n').map(move |l| {
        let r = at..at + l.len();
        at += l.len();
        (r, l)
    })
}

fn npmrc(text: &str, out: &mut Findings) {
    for (range, line) in lines(text) {
        let body = line.trim_end_matches(['\n', '\r']);
        let Some((key, value)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let Some(scope) = key.strip_suffix(":_authToken") else {
            if key.ends_with("_auth") || key.ends_with("_password") {
                out.skipped.push(Skipped {
                    label: key.to_owned(),
                    why: "a base64 `_auth`/`_password`: replace it with an `_authToken` and import again",
                });
            }
            continue;
        };
        let value_start = range.start + body.find('=').unwrap_or(0) + 1;
        let raw = &body[body.find('=').unwrap_or(0) + 1..];
        let lead = raw.len() - raw.trim_start().len();
        let value = value.trim();
        let host = scope
            .trim_start_matches('/')
            .split(['/', ':'])
            .next()
            .unwrap_or("")
            .to_owned();
        let name = if host == "registry.npmjs.org" {
            "NPM_TOKEN".to_owned()
        } else {
            vault_name(&format!("NPM_TOKEN_{host}"))
        };
        let start = value_start + lead;
        out.push(Found {
            label: key.to_owned(),
            name,
            value: Zeroizing::new(value.as_bytes().to_vec()),
            hosts: vec![host].into_iter().filter(|h| !h.is_empty()).collect(),
            programs: &["npm", "pnpm", "yarn"],
            user: None,
            edit: Edit::EnvReference(start..start + value.len()),
        });
    }
}

fn git_credentials(text: &str, out: &mut Findings) {
    for (range, line) in lines(text) {
        let url = line.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            continue;
        };
        let authority = rest.split('/').next().unwrap_or("");
        let Some((userinfo, hostport)) = authority.rsplit_once('@') else {
            continue;
        };
        let (user, pass) = userinfo.split_once(':').unwrap_or(("", userinfo));
        let host = hostport.split(':').next().unwrap_or(hostport).to_owned();
        out.push(Found {
            // The URL git's credential configuration matches.
            label: format!("{scheme}://{hostport}"),
            name: vault_name(&format!("{host}_GIT_TOKEN")),
            value: Zeroizing::new(percent_decode(pass)),
            hosts: vec![host],
            programs: &["git"],
            user: Some(String::from_utf8_lossy(&percent_decode(user)).into_owned()),
            edit: Edit::Remove(range),
        });
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// `.netrc` tokens with their byte ranges (a `macdef` body is skipped).
fn netrc_tokens(text: &str) -> Vec<(Range<usize>, &str)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let tok = &text[start..i];
        if tok == "macdef" {
            // A macro runs to the next empty line.
            match text[i..].find("\n\n") {
                Some(e) => i += e + 2,
                None => i = b.len(),
            }
            continue;
        }
        out.push((start..i, tok));
    }
    out
}

fn netrc(text: &str, out: &mut Findings) {
    let toks = netrc_tokens(text);
    let mut host: Option<String> = None;
    let mut user: Option<String> = None;
    let mut i = 0;
    while i < toks.len() {
        let (_, t) = &toks[i];
        let next = toks.get(i + 1);
        match (*t, next) {
            ("machine", Some((_, h))) => {
                host = Some((*h).to_owned());
                user = None;
                i += 2;
            }
            ("default", _) => {
                host = None;
                user = None;
                i += 1;
            }
            ("login", Some((_, u))) => {
                user = Some((*u).to_owned());
                i += 2;
            }
            ("password", Some((vr, v))) => {
                let label = host
                    .as_ref()
                    .map_or_else(|| "default".to_owned(), |h| format!("machine {h}"));
                let name = vault_name(&format!(
                    "{}_NETRC_PASSWORD",
                    host.as_deref().unwrap_or("DEFAULT")
                ));
                out.push(Found {
                    label,
                    name,
                    value: Zeroizing::new(v.as_bytes().to_vec()),
                    hosts: host.clone().into_iter().collect(),
                    programs: &["git", "curl"],
                    user: user.clone(),
                    edit: Edit::Remove(toks[i].0.start..vr.end),
                });
                i += 2;
            }
            _ => i += 1,
        }
    }
}

fn pypirc(text: &str, out: &mut Findings) {
    let mut section = String::new();
    let mut repository: Option<String> = None;
    let mut pending: Vec<(Range<usize>, String)> = Vec::new();
    let flush = |section: &str,
                 repository: &Option<String>,
                 pending: &mut Vec<(Range<usize>, String)>,
                 out: &mut Findings| {
        for (line, value) in pending.drain(..) {
            let host = match (section, repository) {
                (_, Some(url)) => url_host(url),
                ("pypi", None) => Some("upload.pypi.org".to_owned()),
                ("testpypi", None) => Some("test.pypi.org".to_owned()),
                _ => None,
            };
            let name = if section == "pypi" {
                "PYPI_TOKEN".to_owned()
            } else {
                vault_name(&format!("{section}_PYPI_TOKEN"))
            };
            out.push(Found {
                label: format!("[{section}] password"),
                name,
                value: Zeroizing::new(value.into_bytes()),
                hosts: host.into_iter().collect(),
                programs: &["twine"],
                user: None,
                edit: Edit::Remove(line),
            });
        }
    };
    for (range, line) in lines(text) {
        let body = line.trim();
        if let Some(s) = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
            flush(&section, &repository, &mut pending, out);
            section = s.trim().to_owned();
            repository = None;
            continue;
        }
        let Some((key, value)) = body.split_once(['=', ':']) else {
            continue;
        };
        match key.trim() {
            "password" => pending.push((range, value.trim().to_owned())),
            "repository" => repository = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    flush(&section, &repository, &mut pending, out);
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = hostport.split(':').next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

fn docker(text: &str, out: &mut Findings) -> anyhow::Result<()> {
    let config: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("not valid JSON (line {})", e.line()))?;
    let Some(auths) = config.get("auths").and_then(serde_json::Value::as_object) else {
        return Ok(());
    };
    for (registry, entry) in auths {
        let Some(auth) = entry.get("auth").and_then(serde_json::Value::as_str) else {
            continue;
        };
        let Some(decoded) = base64_decode(auth) else {
            out.skipped.push(Skipped {
                label: format!("auths.{registry}"),
                why: "its `auth` is not base64",
            });
            continue;
        };
        let decoded = Zeroizing::new(decoded);
        let colon = decoded.iter().position(|&b| b == b':');
        let (user, pass) = match colon {
            Some(c) => (&decoded[..c], &decoded[c + 1..]),
            None => (&b""[..], &decoded[..]),
        };
        let host = url_host(registry).unwrap_or_else(|| registry.clone());
        out.push(Found {
            label: format!("auths.{registry}"),
            name: vault_name(&format!("{host}_DOCKER_PASSWORD")),
            value: Zeroizing::new(pass.to_vec()),
            hosts: vec![host],
            programs: &["docker"],
            user: Some(String::from_utf8_lossy(user).into_owned()),
            edit: Edit::DockerAuth(registry.clone()),
        });
    }
    Ok(())
}

/// `config.json` without the `auth` of each of `registries`, the rest as
/// it was (re-serialized: JSON has no comments to keep).
pub(crate) fn docker_without(text: &str, registries: &[String]) -> anyhow::Result<String> {
    let mut config: serde_json::Value = serde_json::from_str(text)?;
    if let Some(auths) = config
        .get_mut("auths")
        .and_then(serde_json::Value::as_object_mut)
    {
        for r in registries {
            if let Some(entry) = auths.get_mut(r).and_then(serde_json::Value::as_object_mut) {
                entry.remove("auth");
            }
        }
    }
    let mut s = serde_json::to_string_pretty(&config)?;
    s.push('\n');
    Ok(s)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

fn gh_hosts(text: &str, out: &mut Findings) {
    let mut host: Option<String> = None;
    for (range, line) in lines(text) {
        let body = line.trim_end_matches(['\n', '\r']);
        if !body.starts_with([' ', '\t']) && body.trim_end().ends_with(':') {
            host = Some(body.trim_end().trim_end_matches(':').trim().to_owned());
            continue;
        }
        let Some(value) = body.trim_start().strip_prefix("oauth_token:") else {
            continue;
        };
        let value = value.trim().trim_matches(['"', '\'']);
        let h = host.clone().unwrap_or_else(|| "github.com".into());
        let (name, hosts) = if h == "github.com" {
            (
                "GH_TOKEN".to_owned(),
                vec!["api.github.com".to_owned(), "github.com".to_owned()],
            )
        } else {
            (vault_name(&format!("GH_TOKEN_{h}")), vec![h.clone()])
        };
        out.push(Found {
            label: format!("{h} oauth_token"),
            name,
            value: Zeroizing::new(value.as_bytes().to_vec()),
            hosts,
            programs: &["gh"],
            user: None,
            edit: Edit::Remove(range),
        });
    }
}

/// A vault name made of `text`: upper case, `_` for anything else, never
/// starting with a digit.
pub(crate) fn vault_name(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    let s = s.trim_matches('_');
    let mut s = if s.starts_with(|c: char| c.is_ascii_digit()) || s.is_empty() {
        format!("S_{s}")
    } else {
        s.to_owned()
    };
    s.truncate(128);
    s
}

/// `text` with the findings' values taken out (the edits must not
/// overlap); `names[i]` is the placeholder name of `found[i]`.
pub(crate) fn rewrite(
    kind: Kind,
    text: &str,
    found: &[&Found],
    names: &[String],
) -> anyhow::Result<String> {
    if kind == Kind::DockerConfig {
        let registries: Vec<String> = found
            .iter()
            .filter_map(|f| match &f.edit {
                Edit::DockerAuth(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        return docker_without(text, &registries);
    }
    let mut edits: Vec<(Range<usize>, String)> = found
        .iter()
        .zip(names)
        .filter_map(|(f, name)| match &f.edit {
            Edit::Placeholder(r) => Some((r.clone(), format!("{{{{{name}}}}}"))),
            Edit::EnvReference(r) => Some((r.clone(), format!("${{{name}}}"))),
            Edit::Remove(r) => Some((r.clone(), String::new())),
            Edit::DockerAuth(_) | Edit::None => None,
        })
        .collect();
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (r, with) in edits {
        anyhow::ensure!(r.start >= at, "overlapping edits");
        out.push_str(&text[at..r.start]);
        out.push_str(&with);
        at = r.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(f: &Findings) -> Vec<&str> {
        f.found.iter().map(|x| x.name.as_str()).collect()
    }

    #[test]
    fn dotenv_finds_credentials_and_rewrites_only_their_values() {
        let text = "# app\nPORT=3000\nexport API_TOKEN=\"tok-abcdefgh12345678\" # c\nDATABASE_URL=postgres://u:pw123456789@db/app\nSHORT_PASS=abc\nNAME=x\n";
        let f = find(Kind::Dotenv, text).unwrap();
        assert_eq!(names(&f), ["API_TOKEN", "DATABASE_URL"]);
        assert_eq!(f.skipped.len(), 3, "PORT, SHORT_PASS, NAME");
        let refs: Vec<&Found> = f.found.iter().collect();
        let out = rewrite(
            Kind::Dotenv,
            text,
            &refs,
            &["API_TOKEN".into(), "DATABASE_URL".into()],
        )
        .unwrap();
        assert_eq!(
            out,
            "# app\nPORT=3000\nexport API_TOKEN={{API_TOKEN}} # c\nDATABASE_URL={{DATABASE_URL}}\nSHORT_PASS=abc\nNAME=x\n"
        );
    }

    #[test]
    fn npmrc_becomes_an_environment_reference() {
        let text = "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=npm_abcdefghijklmnop\n";
        let f = find(Kind::Npmrc, text).unwrap();
        assert_eq!(names(&f), ["NPM_TOKEN"]);
        assert_eq!(f.found[0].hosts, ["registry.npmjs.org"]);
        let out = rewrite(Kind::Npmrc, text, &[&f.found[0]], &["NPM_TOKEN".into()]).unwrap();
        assert!(out.ends_with(":_authToken=${NPM_TOKEN}\n"), "{out}");
    }

    #[test]
    fn git_credentials_and_netrc_lose_their_passwords() {
        let text = "https://me:ghp_abc%2Fdefghijklmnop@github.com\nhttps://x:longenoughpw@git.example:8443\n";
        let f = find(Kind::GitCredentials, text).unwrap();
        assert_eq!(names(&f), ["GITHUB_COM_GIT_TOKEN", "GIT_EXAMPLE_GIT_TOKEN"]);
        assert_eq!(f.found[0].value.as_slice(), b"ghp_abc/defghijklmnop");
        assert_eq!(f.found[0].user.as_deref(), Some("me"));
        assert_eq!(f.found[1].hosts, ["git.example"]);
        let refs: Vec<&Found> = f.found.iter().take(1).collect();
        let out = rewrite(Kind::GitCredentials, text, &refs, &["X".into()]).unwrap();
        assert_eq!(out, "https://x:longenoughpw@git.example:8443\n");

        let text = "machine api.example.com login me password s3cretvalue99\nmacdef init\npassword nope\n\ndefault login a password defaultpass1\n";
        let f = find(Kind::Netrc, text).unwrap();
        assert_eq!(
            names(&f),
            ["API_EXAMPLE_COM_NETRC_PASSWORD", "DEFAULT_NETRC_PASSWORD"]
        );
        let out = rewrite(Kind::Netrc, text, &[&f.found[0]], &["X".into()]).unwrap();
        assert!(
            out.starts_with("machine api.example.com login me \n"),
            "{out}"
        );
    }

    #[test]
    fn pypirc_docker_and_gh() {
        let text = "[distutils]\nindex-servers = pypi\n[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcabcdefgh\n[private]\nrepository = https://pkgs.example.org/simple\npassword = privatepass123\n";
        let f = find(Kind::Pypirc, text).unwrap();
        assert_eq!(names(&f), ["PYPI_TOKEN", "PRIVATE_PYPI_TOKEN"]);
        assert_eq!(f.found[0].hosts, ["upload.pypi.org"]);
        assert_eq!(f.found[1].hosts, ["pkgs.example.org"]);

        // base64("bot:dckr_pat_abcdefgh")
        let text = r#"{"auths": {"https://index.docker.io/v1/": {"auth": "Ym90OmRja3JfcGF0X2FiY2RlZmdo"}}, "credsStore": ""}"#;
        let f = find(Kind::DockerConfig, text).unwrap();
        assert_eq!(names(&f), ["INDEX_DOCKER_IO_DOCKER_PASSWORD"]);
        assert_eq!(f.found[0].value.as_slice(), b"dckr_pat_abcdefgh");
        let out = rewrite(Kind::DockerConfig, text, &[&f.found[0]], &["X".into()]).unwrap();
        assert!(
            !out.contains("auth\"") && out.contains("credsStore"),
            "{out}"
        );

        let text = "github.com:\n    user: me\n    oauth_token: gho_abcdefghijklmnop\n    git_protocol: https\n";
        let f = find(Kind::GhHosts, text).unwrap();
        assert_eq!(names(&f), ["GH_TOKEN"]);
        let out = rewrite(Kind::GhHosts, text, &[&f.found[0]], &["GH_TOKEN".into()]).unwrap();
        assert_eq!(out, "github.com:\n    user: me\n    git_protocol: https\n");
    }

    #[test]
    fn names_and_kinds() {
        assert_eq!(vault_name("registry.npmjs.org"), "REGISTRY_NPMJS_ORG");
        assert_eq!(vault_name("1.2.3.4_X"), "S_1_2_3_4_X");
        assert!(secret_name("db.password") && secret_name("STRIPE_SECRET_KEY"));
        assert!(!secret_name("PORT") && !secret_name("KEYBOARD_LAYOUT"));
        assert_eq!(
            Kind::of(Path::new("/h/.docker/config.json")),
            Kind::DockerConfig
        );
        assert_eq!(Kind::of(Path::new("/p/.env.local")), Kind::Dotenv);
    }
}
