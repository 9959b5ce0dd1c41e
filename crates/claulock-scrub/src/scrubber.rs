//! Building a scrubber from named secrets.

use std::fmt;
use std::sync::Arc;

use crate::forms::{self, Form, Forms};
use crate::matcher::Matcher;
use crate::partial;
use crate::stream::Stream;

/// Values shorter than this are refused by default: masking them would
/// mangle ordinary output and reveal them by context.
pub const DEFAULT_MIN_SECRET_LEN: usize = 8;

/// At the end of a stream, a cut-off prefix of a form at least this long is
/// redacted by default.
pub const DEFAULT_MIN_PARTIAL: usize = 8;

/// By default a cut-off prefix is marked only when producing it blind would
/// take guessing this many bits of the value (see the crate docs, "No
/// prefix oracle").
pub const DEFAULT_PARTIAL_GUESS_BITS: u32 = 64;

/// A value is reported as weak below this length.
const WEAK_LEN: usize = 16;

/// The default marker: `[REDACTED:NAME]` for the value itself,
/// `[REDACTED:NAME:FORM]` for an encoding.
pub const DEFAULT_MARKER: &str = "[REDACTED:{name}{:form}]";

/// A scrubber: built once, shared cheaply (it is an `Arc` inside), used for
/// any number of independent [`Stream`]s.
#[derive(Clone)]
pub struct Scrubber {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) names: Vec<String>,
    /// Per pattern: the secret it belongs to and its form.
    pub(crate) origin: Vec<(usize, Form)>,
    /// Per pattern: its length (patterns themselves live in the automaton
    /// and the partial index).
    pub(crate) matcher: Matcher,
    pub(crate) marker: String,
    /// Per pattern: the shortest prefix a stream's end may mark (`None`:
    /// none may be marked).
    pub(crate) partial_min: Vec<Option<usize>>,
    /// `partial[b]`: (pattern, prefix length k) for every proper prefix at
    /// least as long as the pattern's `partial_min` whose last byte is `b`.
    pub(crate) partial: Vec<Vec<(usize, usize)>>,
    pub(crate) patterns: Vec<Vec<u8>>,
    /// Every prefix of every pattern, for where a stream's undecided tail
    /// begins.
    pub(crate) prefixes: crate::pending::Prefixes,
    /// Whether matches cross line breaks, and invisible bytes.
    pub(crate) line_breaks: bool,
    pub(crate) invisible: bool,
    pub(crate) warnings: Vec<Warning>,
    /// The views streams match on (see `view`).
    pub(crate) views: Vec<crate::view::Rules>,
    /// The longest span, in original bytes, a match may have.
    pub(crate) span_limit: usize,
    /// Whether streams also match on the bytes dumps spell.
    pub(crate) dumps: bool,
    /// The step between the windows that find dumps (see `dump`).
    pub(crate) dump_step: usize,
    /// Decided bytes a stream keeps before its undecided ones, and holds
    /// back after a match, for the views' rules to decide alike.
    pub(crate) context: usize,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names and counts only: never a pattern, which is a value's form.
        f.debug_struct("Scrubber")
            .field("secrets", &self.inner.names)
            .field("patterns", &self.inner.patterns.len())
            .finish()
    }
}

/// Something a caller may want to tell the user about a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The value is short or repetitive: masking it may mangle unrelated
    /// output and reveal it by context.
    Weak {
        /// The secret's name.
        name: String,
    },
    /// The value has a byte the JSON form cannot express (invalid UTF-8).
    NotUtf8 {
        /// The secret's name.
        name: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Weak { name } => write!(
                f,
                "secret {name} is short or repetitive: masking it may mangle unrelated output and hint at its value"
            ),
            Warning::NotUtf8 { name } => {
                write!(
                    f,
                    "secret {name} is not UTF-8, so its JSON form is not searched"
                )
            }
        }
    }
}

/// Why a scrubber could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum BuildErrorKind {
    TooShort {
        name: String,
        len: usize,
        min: usize,
    },
    BadName {
        name: String,
    },
    BadMarker {
        reason: &'static str,
    },
    Automaton {
        message: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::TooShort { name, len, min } => write!(
                f,
                "secret {name} is {len} bytes long, shorter than the minimum of {min}: a value that short cannot be masked safely"
            ),
            BuildErrorKind::BadName { name } => write!(
                f,
                "secret name {name:?} must be non-empty and hold no control characters"
            ),
            BuildErrorKind::BadMarker { reason } => write!(f, "marker template {reason}"),
            BuildErrorKind::Automaton { message } => {
                write!(f, "cannot build the pattern automaton: {message}")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// Configures and builds a [`Scrubber`].
#[derive(Clone)]
pub struct ScrubberBuilder {
    secrets: Vec<(String, Vec<u8>)>,
    forms: Forms,
    min_secret_len: usize,
    min_partial: usize,
    partial_guess_bits: u32,
    marker: String,
}

impl fmt::Debug for ScrubberBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrubberBuilder")
            .field(
                "secrets",
                &self.secrets.iter().map(|s| &s.0).collect::<Vec<_>>(),
            )
            .field("forms", &self.forms)
            .finish_non_exhaustive()
    }
}

impl Default for ScrubberBuilder {
    fn default() -> Self {
        ScrubberBuilder {
            secrets: Vec::new(),
            forms: Forms::default(),
            min_secret_len: DEFAULT_MIN_SECRET_LEN,
            min_partial: DEFAULT_MIN_PARTIAL,
            partial_guess_bits: DEFAULT_PARTIAL_GUESS_BITS,
            marker: DEFAULT_MARKER.to_owned(),
        }
    }
}

impl ScrubberBuilder {
    /// A builder with every form on except fragments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret. Its name appears in markers and statistics; its value
    /// is any bytes. A name may be given several values (a current and a
    /// rotated-out one): each is caught and named alike.
    pub fn secret(&mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> &mut Self {
        self.secrets.push((name.into(), value.as_ref().to_vec()));
        self
    }

    /// Chooses the forms to look for.
    pub fn forms(&mut self, forms: Forms) -> &mut Self {
        self.forms = forms;
        self
    }

    /// Values shorter than `len` bytes make [`build`](Self::build) fail.
    pub fn min_secret_len(&mut self, len: usize) -> &mut Self {
        self.min_secret_len = len;
        self
    }

    /// At the end of a stream, a cut-off prefix of a form shorter than
    /// `len` bytes is never redacted (`0` turns partial marks off). This is
    /// a floor on top of [`partial_guess_bits`](Self::partial_guess_bits).
    pub fn min_partial(&mut self, len: usize) -> &mut Self {
        self.min_partial = len;
        self
    }

    /// At the end of a stream, a cut-off prefix of a form is redacted only
    /// when producing it without knowing the value would take guessing at
    /// least `bits` bits of it (default
    /// [`DEFAULT_PARTIAL_GUESS_BITS`]), so that a mark answers nothing the
    /// asker does not already know. `0` turns the rule off, leaving only
    /// [`min_partial`](Self::min_partial): every prefix that long is marked,
    /// which lets anyone who can choose strings learn a value character by
    /// character; only tests should want it. The rule is explained in the
    /// crate docs ("No prefix oracle").
    pub fn partial_guess_bits(&mut self, bits: u32) -> &mut Self {
        self.partial_guess_bits = bits;
        self
    }

    /// The marker template: `{name}` is the secret's name, `{form}` the
    /// form's name, and `{:form}` is `:form` for an encoding and nothing for
    /// the raw value. Default: [`DEFAULT_MARKER`].
    pub fn marker(&mut self, template: impl Into<String>) -> &mut Self {
        self.marker = template.into();
        self
    }

    /// Builds the scrubber.
    ///
    /// # Errors
    ///
    /// A value shorter than the minimum, an empty or duplicate name, a
    /// marker template that could be mistaken for a placeholder (`{{`), or
    /// a pattern set too large for the automaton. No message holds a value.
    pub fn build(&self) -> Result<Scrubber, BuildError> {
        let err = |kind| Err(BuildError { kind });
        if self.marker.contains("{{") || self.marker.contains("}}") {
            return err(BuildErrorKind::BadMarker {
                reason: "must not contain `{{` or `}}`: a marker must never read as a placeholder",
            });
        }
        let mut names = Vec::new();
        let mut warnings = Vec::new();
        let mut origin = Vec::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut partial_min: Vec<Option<usize>> = Vec::new();
        let mut seen: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        for (idx, (name, value)) in self.secrets.iter().enumerate() {
            if name.is_empty() || name.chars().any(char::is_control) {
                return err(BuildErrorKind::BadName { name: name.clone() });
            }
            if value.len() < self.min_secret_len.max(1) {
                return err(BuildErrorKind::TooShort {
                    name: name.clone(),
                    len: value.len(),
                    min: self.min_secret_len.max(1),
                });
            }
            if value.len() < WEAK_LEN || forms::entropy_bits(value) < 2.5 {
                warnings.push(Warning::Weak { name: name.clone() });
            }
            if self.forms.json && std::str::from_utf8(value).is_err() {
                warnings.push(Warning::NotUtf8 { name: name.clone() });
            }
            names.push(name.clone());
            // Streams match on views without removable spans, so a pattern
            // is searched as it appears there.
            let view = |p: &[u8]| {
                if self.forms.line_breaks || self.forms.invisible {
                    crate::view::compact_pattern(p, self.forms.line_breaks, self.forms.invisible)
                } else {
                    p.to_vec()
                }
            };
            let forms_of: Vec<(Form, Vec<u8>)> = forms::patterns(value, &self.forms)
                .into_iter()
                .map(|(form, p)| (form, view(&p)))
                .collect();
            let marks = partial::thresholds(
                value,
                &self.forms,
                &forms_of,
                &view,
                self.partial_guess_bits,
                self.min_partial,
            );
            for ((form, p), mark) in forms_of.into_iter().zip(marks) {
                if p.len() < self.min_secret_len.clamp(1, 8) {
                    continue;
                }
                match seen.get(&p) {
                    // Identical bytes are one pattern, named by its first
                    // form (the raw value before its encodings, earlier
                    // secrets first), marked partially only as the
                    // strictest of its derivations allows.
                    Some(&i) => {
                        partial_min[i] = partial_min[i].zip(mark).map(|(a, b)| a.max(b));
                    }
                    None => {
                        seen.insert(p.clone(), patterns.len());
                        origin.push((idx, form));
                        partial_min.push(mark);
                        patterns.push(p);
                    }
                }
            }
        }
        let matcher = Matcher::new(&patterns).map_err(|e| BuildError {
            kind: BuildErrorKind::Automaton { message: e.0 },
        })?;
        let mut partial = vec![Vec::new(); 256];
        for (pi, p) in patterns.iter().enumerate() {
            if let Some(min) = partial_min[pi] {
                for k in min.max(1)..p.len() {
                    partial[usize::from(p[k - 1])].push((pi, k));
                }
            }
        }
        let matcher_max = matcher.max_len();
        let dump_step = crate::dump::window_step(matcher.min_len());
        Ok(Scrubber {
            inner: Arc::new(Inner {
                names,
                origin,
                matcher,
                marker: self.marker.clone(),
                partial_min,
                partial,
                views: crate::view::views(self.forms.line_breaks, self.forms.invisible),
                span_limit: crate::view::span_limit(
                    matcher_max,
                    self.forms.line_breaks,
                    self.forms.invisible || self.forms.dumps,
                ),
                dumps: self.forms.dumps,
                dump_step,
                context: if self.forms.invisible || self.forms.dumps {
                    crate::view::CONTEXT.max(crate::dump::MAX_LINE)
                } else {
                    0
                },
                prefixes: crate::pending::Prefixes::new(&patterns),
                line_breaks: self.forms.line_breaks,
                invisible: self.forms.invisible,
                patterns,
                warnings,
            }),
        })
    }
}

impl Scrubber {
    /// A builder with default settings.
    pub fn builder() -> ScrubberBuilder {
        ScrubberBuilder::new()
    }

    /// A new, independent stream.
    pub fn stream(&self) -> Stream {
        Stream::new(self.clone())
    }

    /// Scrubs a whole buffer at once. Equal to feeding it to a stream in any
    /// chunks and finishing.
    ///
    /// # Example
    ///
    /// ```
    /// let s = claulock_scrub::Scrubber::builder()
    ///     .secret("TOKEN", "ghp_16C7e42F292c6912E7710c838347Ae178B4a")
    ///     .build()
    ///     .unwrap();
    /// let out = s.scrub(b"auth: Z2hwXzE2QzdlNDJGMjkyYzY5MTJFNzcxMGM4MzgzNDdBZTE3OEI0YQ==\n");
    /// assert_eq!(out, b"auth: [REDACTED:TOKEN:base64]\n");
    /// ```
    pub fn scrub(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        let mut s = self.stream();
        s.feed(input, &mut out);
        s.finish(&mut out);
        out
    }

    /// Notes about weak values, for the caller to pass on to the user.
    pub fn warnings(&self) -> &[Warning] {
        &self.inner.warnings
    }

    /// The names of the secrets, in the order they were added.
    pub fn names(&self) -> &[String] {
        &self.inner.names
    }

    /// How many distinct byte patterns the scrubber searches for.
    pub fn pattern_count(&self) -> usize {
        self.inner.patterns.len()
    }

    /// The longest pattern, in bytes.
    pub fn max_pattern_len(&self) -> usize {
        self.inner.matcher.max_len()
    }

    /// The most bytes a stream holds back between calls (it holds back
    /// only its undecided tail, usually far less): the longest span
    /// a match may have in the original text, less one byte, plus the
    /// context its views' rules look at after it. Without line breaks or
    /// invisible bytes that is `max_pattern_len() - 1`; with line breaks
    /// only, `3 * max_pattern_len() - 1`; with invisible bytes or dumps
    /// (the default), `16 * max_pattern_len() - 1 + 260`.
    pub fn max_held_back(&self) -> usize {
        (self.inner.span_limit + self.inner.context).saturating_sub(1)
    }

    pub(crate) fn render_marker(&self, secret: usize, form: Form, out: &mut Vec<u8>) {
        let name = &self.inner.names[secret];
        let suffix = if form == Form::Raw {
            String::new()
        } else {
            format!(":{form}")
        };
        let text = self
            .inner
            .marker
            .replace("{name}", name)
            .replace("{:form}", &suffix)
            .replace("{form}", form.as_str());
        out.extend_from_slice(text.as_bytes());
    }
}
