//! A bash lexer that knows, for every placeholder, its quoting context and the
//! simple command it flows into.
//!
//! # Why hand-written
//!
//! The substitution plan must know the quoting context of each placeholder at
//! its exact byte offset (unquoted, `"…"`, `'…'`, `$'…'`, a here-document
//! body) to write an environment reference that bash will expand to exactly
//! the value. Bash AST parsers keep words as raw strings to be expanded later
//! and discard that information, and their failure modes are not ours: when
//! this lexer meets something it cannot classify with certainty it refuses,
//! and a refusal is always safe. It is also small enough to fuzz to the end.
//!
//! The lexer covers the bash grammar that matters for data flow: words and
//! all quoting forms, `$(…)`, backticks, `${…}`, `$((…))`, process
//! substitution, pipelines and lists, redirections, here-documents and
//! here-strings, reserved words, `[[ … ]]`, `(( … ))` and function
//! definitions. Placeholders where a rewrite would be a guess (inside `${…}`,
//! arithmetic, comments, right after `$` or a backslash, in a here-document
//! delimiter, in backticks that contain backslashes) are refused.

use std::fmt;
use std::ops::Range;

use crate::grammar::Placeholder;

/// The quoting context a placeholder sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    /// Outside any quotes.
    Unquoted,
    /// Inside `"…"` (or `$"…"`).
    DoubleQuoted,
    /// Inside `'…'`.
    SingleQuoted,
    /// Inside `$'…'`.
    AnsiC,
    /// In the body of a here-document whose delimiter is unquoted.
    HeredocUnquoted,
    /// In the body of a here-document whose delimiter is quoted.
    HeredocQuoted,
}

/// How a placeholder's value reaches its command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The command name itself.
    Program,
    /// A command-line argument.
    Argument,
    /// An assignment word (`NAME=value`), as a prefix or on its own.
    Assignment,
    /// The target of a redirection (a file name).
    RedirectTarget,
    /// Standard input, through a here-document or a here-string.
    Stdin,
}

/// A lexing failure, or a placeholder in a place that cannot be rewritten
/// safely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    offset: usize,
    message: String,
}

impl SyntaxError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            offset,
            message: message.into(),
        }
    }

    /// Byte offset in the command where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for SyntaxError {}

/// One placeholder occurrence, located.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    /// Index into the placeholder list the script was lexed with.
    pub placeholder: usize,
    pub context: Context,
    /// Index of the simple command the value flows into.
    pub command: usize,
    pub role: Role,
}

#[derive(Clone, Debug)]
pub(crate) enum Part {
    Lit(String),
    Placeholder(usize),
    /// An expansion whose result is unknown until run time.
    Dynamic,
}

/// A shell word, with quotes removed and expansions marked.
#[derive(Clone, Debug)]
pub(crate) struct Word {
    pub parts: Vec<Part>,
    /// Whether any part of the word was quoted or escaped.
    pub quoted: bool,
    /// Length of the unquoted literal text the word starts with.
    pub plain_prefix: usize,
    /// The literal text with quoting reduced to backslashes (see
    /// [`ShellWord::Literal`]); meaningful only when [`Word::literal`] is.
    pub escaped: String,
}

/// Stand-ins used when a word is rendered for analysis: neither can occur in
/// a host name, so destination parsing notices them.
pub(crate) const DYNAMIC_MARK: char = '\u{1}';
pub(crate) const PLACEHOLDER_MARK: char = '\u{2}';

impl Word {
    /// The word's text when it has no expansion and no placeholder.
    pub(crate) fn literal(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(t) => s.push_str(t),
                _ => return None,
            }
        }
        Some(s)
    }

    /// The word's text with placeholders and expansions replaced by marks.
    pub(crate) fn rendered(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(t) => s.push_str(t),
                Part::Placeholder(_) => s.push(PLACEHOLDER_MARK),
                Part::Dynamic => s.push(DYNAMIC_MARK),
            }
        }
        s
    }

    pub(crate) fn sites(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder(s) => Some(*s),
            _ => None,
        })
    }

    fn keyword(&self) -> Option<&str> {
        match (&self.parts[..], self.quoted) {
            ([Part::Lit(t)], false) => Some(t),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Redirect {
    /// The operator (`>`, `>>`, `<`, `<<<`, `>&`, …), without an fd number.
    pub op: &'static str,
    pub target: Word,
}

/// A simple command, the unit a value flows into.
#[derive(Clone, Debug, Default)]
pub(crate) struct Command {
    /// `NAME=value` words before the command name.
    pub assignments: Vec<Word>,
    /// The command name and its arguments.
    pub words: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// Whether a here-document feeds its standard input.
    pub heredoc: bool,
    /// A compound keyword that owns the words (`for`, `case`, `select`,
    /// `[[`, `((`, `coproc`, `function`).
    pub keyword: Option<&'static str>,
    /// The command whose standard output is this one's standard input.
    pub pipe_from: Option<usize>,
    /// The command in one of whose words this one is substituted.
    pub enclosing: Option<usize>,
    /// Byte offset of the command name in the text (after assignments).
    pub program_at: Option<usize>,
}

/// A text edit the substitution plan must apply besides the placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

/// The lexed command line.
#[derive(Clone, Debug, Default)]
pub(crate) struct Script {
    pub commands: Vec<Command>,
    pub sites: Vec<Site>,
    /// Names of functions the command line defines.
    pub functions: Vec<String>,
    /// Edits that turn quoted here-documents holding placeholders into
    /// unquoted ones (their bodies escaped so they still read literally).
    pub edits: Vec<Edit>,
}

/// Lexes `text`, whose placeholders are `placeholders` (sorted by offset, as
/// [`crate::grammar::placeholders`] returns them).
pub(crate) fn lex(text: &str, placeholders: &[Placeholder]) -> Result<Script, SyntaxError> {
    let mut p = Parser {
        src: text.as_bytes(),
        text,
        pos: 0,
        end: text.len(),
        phs: placeholders,
        next_ph: 0,
        script: Script::default(),
        pending: Vec::new(),
        current: None,
        escape_end: usize::MAX,
        depth: 0,
    };
    p.parse_list(Term::Eof, None)?;
    if let Some(h) = p.pending.first() {
        return Err(SyntaxError::new(
            h.delim_span.start,
            format!("here-document delimited by `{}` has no body", h.delim),
        ));
    }
    Ok(p.script)
}

/// One word of a [`SimpleCommand`], as bash sees it before brace, tilde
/// and pathname expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShellWord {
    /// A word whose text is known before the command runs.
    Literal {
        /// The word with quotes removed: `'a b'` is `a b`.
        text: String,
        /// The same text with its quoting reduced to backslashes: each
        /// quoted or escaped character that brace, tilde or pathname
        /// expansion would treat specially (`\ * ? [ ] { } , ~`) carries a
        /// backslash, an unquoted one does not. `.e"*"` is `.e\*` (a file
        /// of that name), `.e*` stays `.e*` (a glob).
        pattern: String,
    },
    /// A word holding an expansion whose result only the running shell
    /// knows (`$X`, `${X}`, `$(…)`, backticks, `$((…))`, an escape in
    /// `$'…'`), or a placeholder.
    Dynamic,
}

impl ShellWord {
    /// The word's text, quotes removed (`None` when it is dynamic).
    pub fn text(&self) -> Option<&str> {
        match self {
            ShellWord::Literal { text, .. } => Some(text),
            ShellWord::Dynamic => None,
        }
    }

    fn of(word: &Word) -> ShellWord {
        match word.literal() {
            Some(text) => ShellWord::Literal {
                text,
                pattern: word.escaped.clone(),
            },
            None => ShellWord::Dynamic,
        }
    }
}

/// A simple command of a command line, for callers that look at the files
/// and programs a command names (the hooks' file guard).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The command name and its arguments (assignment words before the
    /// name are left out). A compound keyword's words (`for x in …`) are
    /// here too.
    pub words: Vec<ShellWord>,
    /// Each redirection: its operator (`<`, `>`, `>>`, `<<<`, `>&`, …,
    /// without an fd number) and its target.
    pub redirects: Vec<(&'static str, ShellWord)>,
    /// Whether a here-document (`<<`, `<<-`) feeds its standard input.
    pub heredoc: bool,
    /// The command whose standard output this one reads (an index into
    /// the same list).
    pub pipe_from: Option<usize>,
}

/// The simple commands of `text`, in the order they appear (a command
/// substituted in another's word comes after the words read before it):
/// words as bash sees them, quotes removed, each expansion known only at
/// run time marked [`ShellWord::Dynamic`].
///
/// # Errors
///
/// When the lexer cannot read the command with certainty (the same
/// refusals as for a command with placeholders); a caller looking for
/// files should then assume the worst.
///
/// # Example
///
/// ```
/// use claulock_core::shell::{simple_commands, ShellWord};
///
/// let cmds = simple_commands("tr a-z A-Z < .e\"\"nv | base64 $F").unwrap();
/// assert_eq!(cmds.len(), 2);
/// assert_eq!(cmds[0].redirects[0].1.text(), Some(".env"));
/// assert_eq!(cmds[1].pipe_from, Some(0));
/// assert_eq!(cmds[1].words[1], ShellWord::Dynamic);
/// let ShellWord::Literal { pattern, .. } = &simple_commands("ls '*'.md *.rs").unwrap()[0].words[1]
/// else { panic!() };
/// assert_eq!(pattern, "\\*.md");
/// ```
pub fn simple_commands(text: &str) -> Result<Vec<SimpleCommand>, SyntaxError> {
    let placeholders = crate::grammar::placeholders(text)
        .map_err(|e| SyntaxError::new(e.offset(), e.to_string()))?;
    let script = lex(text, &placeholders)?;
    Ok(script
        .commands
        .iter()
        .map(|c| SimpleCommand {
            words: c.words.iter().map(ShellWord::of).collect(),
            redirects: c
                .redirects
                .iter()
                .map(|r| (r.op, ShellWord::of(&r.target)))
                .collect(),
            heredoc: c.heredoc,
            pipe_from: c.pipe_from,
        })
        .collect())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Term {
    Eof,
    Paren,
}

struct PendingHeredoc {
    command: usize,
    delim: String,
    delim_span: Range<usize>,
    strip_tabs: bool,
    quoted: bool,
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

const RESERVED_SKIP: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac",
];

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    /// Lexing stops here (the end of the text, of a backtick substitution or
    /// of a here-document body).
    end: usize,
    phs: &'a [Placeholder],
    next_ph: usize,
    script: Script,
    pending: Vec<PendingHeredoc>,
    /// The simple command words are currently being read for.
    current: Option<usize>,
    /// Offset just past the last backslash escape, to tell an escaped
    /// backslash from a literal one before a placeholder.
    escape_end: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.src[self.pos])
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        let i = self.pos + off;
        (i < self.end).then(|| self.src[i])
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.src[self.pos..self.end].starts_with(s)
    }

    /// The placeholder starting at the current position, if any. A
    /// placeholder that the lexer stepped over (inside an escape sequence or
    /// a construct it skipped) is an error: its context is unknown.
    fn placeholder_here(&mut self) -> Result<Option<usize>, SyntaxError> {
        let Some(ph) = self.phs.get(self.next_ph) else {
            return Ok(None);
        };
        if ph.span.start < self.pos {
            return Err(SyntaxError::new(
                ph.span.start,
                format!(
                    "placeholder {{{{{}}}}} is part of an escape sequence; write it without a backslash before it",
                    ph.name
                ),
            ));
        }
        Ok((ph.span.start == self.pos).then_some(self.next_ph))
    }

    /// Refuses any placeholder starting inside `range`: `what` names the
    /// construct for the message.
    fn forbid_placeholders(&self, range: Range<usize>, what: &str) -> Result<(), SyntaxError> {
        if let Some(ph) = self.phs[self.next_ph..]
            .iter()
            .find(|p| range.contains(&p.span.start))
        {
            return Err(SyntaxError::new(
                ph.span.start,
                format!(
                    "placeholder {{{{{}}}}} is inside {what}, where it cannot be substituted safely",
                    ph.name
                ),
            ));
        }
        Ok(())
    }

    fn skip_placeholders_before(&mut self, pos: usize) {
        while self
            .phs
            .get(self.next_ph)
            .is_some_and(|p| p.span.start < pos)
        {
            self.next_ph += 1;
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::new(self.pos, "the command nests too deeply"));
        }
        Ok(())
    }

    /// Records a placeholder site at the current position and steps past it.
    fn take_placeholder(&mut self, idx: usize, context: Context) -> Result<usize, SyntaxError> {
        let ph = &self.phs[idx];
        let start = ph.span.start;
        // In `'…'` and quoted here-documents every byte is literal; in `$'…'`
        // a backslash before the placeholder would have consumed its `{` (and
        // been caught by `placeholder_here`), and `$` is literal.
        let expands = matches!(
            context,
            Context::Unquoted | Context::DoubleQuoted | Context::HeredocUnquoted
        );
        if expands && start > 0 {
            let before = self.src[start - 1];
            // `$` would turn the reference into `$$…` or `$"…"`; a literal
            // backslash would escape the reference's `$`.
            let literal_backslash = before == b'\\' && self.escape_end != start;
            if before == b'$' || literal_backslash {
                return Err(SyntaxError::new(
                    start,
                    format!(
                        "placeholder {{{{{}}}}} follows `{}` directly; put a space or quote between them",
                        ph.name, before as char
                    ),
                ));
            }
        }
        let command = self.current.unwrap_or(0);
        self.script.sites.push(Site {
            placeholder: idx,
            context,
            command,
            role: Role::Argument,
        });
        self.pos = ph.span.end;
        self.next_ph += 1;
        Ok(self.script.sites.len() - 1)
    }

    fn ensure_command(&mut self, cur: &mut Option<usize>, enclosing: Option<usize>) -> usize {
        if let Some(c) = *cur {
            return c;
        }
        self.script.commands.push(Command {
            enclosing,
            ..Command::default()
        });
        let idx = self.script.commands.len() - 1;
        *cur = Some(idx);
        idx
    }

    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\\') if self.peek_at(1) == Some(b'\n') => self.pos += 2,
                _ => break,
            }
        }
    }

    /// Parses a list of commands until `term` (end of input, or the `)` that
    /// closes a `$(`, `<(` or `>(`).
    fn parse_list(&mut self, term: Term, enclosing: Option<usize>) -> Result<(), SyntaxError> {
        self.enter()?;
        let saved_current = self.current;
        let mut cur: Option<usize> = None;
        let mut pipe_from: Option<usize> = None;
        let mut paren_depth = 0usize;
        let mut case_depth = 0usize;
        let mut cond = false;
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else {
                if term == Term::Paren {
                    return Err(SyntaxError::new(
                        self.pos,
                        "`$(`, `<(` or `>(` is not closed",
                    ));
                }
                break;
            };
            if cond && matches!(c, b'&' | b'|' | b'<' | b'>' | b'(' | b')') {
                // Inside `[[ … ]]` these are operators of the test, not of the shell.
                let start = self.pos;
                while matches!(self.peek(), Some(b'&' | b'|' | b'<' | b'>' | b'(' | b')')) {
                    self.pos += 1;
                }
                let idx = self.ensure_command(&mut cur, enclosing);
                let text = self.text[start..self.pos].to_owned();
                let word = Word {
                    plain_prefix: text.len(),
                    escaped: text.clone(),
                    parts: vec![Part::Lit(text)],
                    quoted: false,
                };
                self.script.commands[idx].words.push(word);
                continue;
            }
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.finish(&mut cur, &mut pipe_from, false);
                    self.read_heredocs()?;
                }
                b'#' => {
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                    self.forbid_placeholders(start..self.pos, "a comment")?;
                }
                b'&' if self.peek_at(1) == Some(b'>') => self.read_redirect(&mut cur, enclosing)?,
                b';' | b'&' | b'|' => {
                    const OPS: &[&str] = &[";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|"];
                    let op = OPS
                        .iter()
                        .find(|op| self.starts_with(op.as_bytes()))
                        .map_or(";", |op| *op);
                    self.pos += op.len();
                    self.finish(&mut cur, &mut pipe_from, op == "|" || op == "|&");
                }
                b'(' => {
                    if let Some(idx) = cur {
                        let cmd = &self.script.commands[idx];
                        let one_word = cmd.words.len() == 1 && cmd.assignments.is_empty();
                        let save = self.pos;
                        self.pos += 1;
                        self.skip_blanks();
                        if one_word && self.peek() == Some(b')') {
                            self.pos += 1;
                            if let Some(name) = self.script.commands[idx].words[0].literal() {
                                self.script.functions.push(name);
                            }
                            self.finish(&mut cur, &mut pipe_from, false);
                            continue;
                        }
                        return Err(SyntaxError::new(save, "unexpected `(` in a command"));
                    }
                    if self.peek_at(1) == Some(b'(') {
                        self.read_arith_command(&mut cur, enclosing)?;
                        continue;
                    }
                    self.pos += 1;
                    paren_depth += 1;
                    self.finish(&mut cur, &mut pipe_from, false);
                }
                b')' => {
                    if case_depth > 0 {
                        self.pos += 1;
                        self.finish(&mut cur, &mut pipe_from, false);
                    } else if paren_depth > 0 {
                        self.pos += 1;
                        paren_depth -= 1;
                        self.finish(&mut cur, &mut pipe_from, false);
                    } else if term == Term::Paren {
                        self.pos += 1;
                        self.finish(&mut cur, &mut pipe_from, false);
                        break;
                    } else {
                        return Err(SyntaxError::new(self.pos, "unexpected `)`"));
                    }
                }
                b'<' | b'>' if self.peek_at(1) == Some(b'(') => {
                    self.read_command_word(&mut cur, enclosing, &mut cond, &mut case_depth)?;
                }
                b'<' | b'>' => self.read_redirect(&mut cur, enclosing)?,
                b'0'..=b'9' if self.is_fd_redirect() => self.read_redirect(&mut cur, enclosing)?,
                _ => self.read_command_word(&mut cur, enclosing, &mut cond, &mut case_depth)?,
            }
            if let Some(idx) = cur {
                if pipe_from.is_some() && self.script.commands[idx].pipe_from.is_none() {
                    self.script.commands[idx].pipe_from = pipe_from.take();
                }
            }
        }
        self.finish(&mut cur, &mut pipe_from, false);
        self.current = saved_current;
        self.depth -= 1;
        Ok(())
    }

    fn finish(&mut self, cur: &mut Option<usize>, pipe_from: &mut Option<usize>, pipe: bool) {
        let done = cur.take();
        *pipe_from = if pipe { done } else { None };
    }

    fn is_fd_redirect(&self) -> bool {
        let mut i = self.pos;
        while i < self.end && self.src[i].is_ascii_digit() {
            i += 1;
        }
        i < self.end && matches!(self.src[i], b'<' | b'>')
    }

    fn read_arith_command(
        &mut self,
        cur: &mut Option<usize>,
        enclosing: Option<usize>,
    ) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.pos += 2;
        self.skip_balanced_parens(2, start, "arithmetic `((…))`")?;
        let idx = self.ensure_command(cur, enclosing);
        self.script.commands[idx].keyword = Some("((");
        Ok(())
    }

    /// Steps over text up to where `depth` open parentheses are closed.
    fn skip_balanced_parens(
        &mut self,
        mut depth: usize,
        start: usize,
        what: &str,
    ) -> Result<(), SyntaxError> {
        while depth > 0 {
            match self.peek() {
                None => return Err(SyntaxError::new(start, format!("{what} is not closed"))),
                Some(b'(') => depth += 1,
                Some(b')') => depth -= 1,
                Some(b'\\') => self.pos += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = self.pos.min(self.end);
        self.forbid_placeholders(start..self.pos, what)?;
        self.skip_placeholders_before(self.pos);
        Ok(())
    }

    fn read_command_word(
        &mut self,
        cur: &mut Option<usize>,
        enclosing: Option<usize>,
        cond: &mut bool,
        case_depth: &mut usize,
    ) -> Result<(), SyntaxError> {
        let idx = self.ensure_command(cur, enclosing);
        self.current = Some(idx);
        let word_start = self.pos;
        let word = self.read_word(Context::Unquoted)?;
        let cmd = &self.script.commands[idx];
        let at_start = cmd.words.is_empty() && cmd.keyword.is_none();
        if at_start {
            if let Some(kw) = word.keyword() {
                if cmd.assignments.is_empty() && RESERVED_SKIP.contains(&kw) {
                    if kw == "esac" {
                        *case_depth = case_depth.saturating_sub(1);
                    }
                    return Ok(());
                }
                if kw == "time" && cmd.assignments.is_empty() {
                    self.skip_blanks();
                    if self.starts_with(b"-p") {
                        self.pos += 2;
                    }
                    return Ok(());
                }
                let keyword = match kw {
                    "[[" => Some("[["),
                    "for" => Some("for"),
                    "select" => Some("select"),
                    "case" => Some("case"),
                    "coproc" => Some("coproc"),
                    "function" => Some("function"),
                    _ => None,
                };
                if let Some(k) = keyword {
                    if k == "[[" {
                        *cond = true;
                    }
                    if k == "case" {
                        *case_depth += 1;
                    }
                    self.script.commands[idx].keyword = Some(k);
                    return Ok(());
                }
            }
            if is_assignment(&word) {
                if self.peek() == Some(b'(') {
                    return Err(SyntaxError::new(
                        word_start,
                        "array assignments `NAME=(…)` are not supported",
                    ));
                }
                self.set_roles(&word, Role::Assignment);
                self.script.commands[idx].assignments.push(word);
                return Ok(());
            }
        }
        if *cond && word.keyword() == Some("]]") {
            *cond = false;
        }
        if self.script.commands[idx].keyword == Some("function")
            && self.script.commands[idx].words.is_empty()
        {
            if let Some(name) = word.literal() {
                self.script.functions.push(name);
            }
        }
        let role = if self.script.commands[idx].words.is_empty()
            && self.script.commands[idx].keyword.is_none()
        {
            self.script.commands[idx].program_at = Some(word_start);
            Role::Program
        } else {
            Role::Argument
        };
        self.set_roles(&word, role);
        self.script.commands[idx].words.push(word);
        Ok(())
    }

    fn set_roles(&mut self, word: &Word, role: Role) {
        for s in word.sites() {
            self.script.sites[s].role = role;
        }
    }

    fn read_redirect(
        &mut self,
        cur: &mut Option<usize>,
        enclosing: Option<usize>,
    ) -> Result<(), SyntaxError> {
        let idx = self.ensure_command(cur, enclosing);
        self.current = Some(idx);
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        const OPS: &[&str] = &[
            "&>>", "<<<", "<<-", "&>", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">",
        ];
        let Some(op) = OPS.iter().find(|op| self.starts_with(op.as_bytes())) else {
            return Err(SyntaxError::new(self.pos, "unknown redirection"));
        };
        self.pos += op.len();
        self.skip_blanks();
        let start = self.pos;
        let process_substitution =
            matches!(self.peek(), Some(b'<' | b'>')) && self.peek_at(1) == Some(b'(');
        if !process_substitution
            && self
                .peek()
                .is_none_or(|c| matches!(c, b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>'))
        {
            return Err(SyntaxError::new(start, format!("`{op}` has no target")));
        }
        if *op == "<<" || *op == "<<-" {
            self.script.commands[idx].heredoc = true;
            self.read_heredoc_delimiter(idx, *op == "<<-")?;
            return Ok(());
        }
        let target = self.read_word(Context::Unquoted)?;
        let role = if *op == "<<<" {
            Role::Stdin
        } else {
            Role::RedirectTarget
        };
        self.set_roles(&target, role);
        self.script.commands[idx]
            .redirects
            .push(Redirect { op, target });
        Ok(())
    }

    fn read_heredoc_delimiter(
        &mut self,
        command: usize,
        strip_tabs: bool,
    ) -> Result<(), SyntaxError> {
        let start = self.pos;
        // The delimiter is taken verbatim up to a metacharacter; quote
        // removal then gives the word bash compares lines with.
        let mut delim = String::new();
        let mut quoted = false;
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' => break,
                b'\'' | b'"' => {
                    quoted = true;
                    let close = self.src[self.pos + 1..self.end]
                        .iter()
                        .position(|&b| b == c)
                        .ok_or_else(|| {
                            SyntaxError::new(
                                self.pos,
                                "unterminated quote in a here-document delimiter",
                            )
                        })?;
                    delim.push_str(&self.text[self.pos + 1..self.pos + 1 + close]);
                    self.pos += close + 2;
                }
                b'\\' => {
                    quoted = true;
                    self.pos += 1;
                    if let Some(n) = self.peek() {
                        let ch_len = utf8_len(n);
                        delim.push_str(&self.text[self.pos..self.pos + ch_len]);
                        self.pos += ch_len;
                    }
                }
                b'$' | b'`' => {
                    return Err(SyntaxError::new(
                        self.pos,
                        "here-document delimiters with expansions are not supported",
                    ));
                }
                _ => {
                    let ch_len = utf8_len(c);
                    delim.push_str(&self.text[self.pos..self.pos + ch_len]);
                    self.pos += ch_len;
                }
            }
        }
        self.pos = self.pos.min(self.end);
        self.forbid_placeholders(start..self.pos, "a here-document delimiter")?;
        if delim.is_empty() {
            return Err(SyntaxError::new(start, "empty here-document delimiter"));
        }
        self.pending.push(PendingHeredoc {
            command,
            delim,
            delim_span: start..self.pos,
            strip_tabs,
            quoted,
        });
        Ok(())
    }

    /// Reads the bodies of the here-documents opened on the line just ended.
    fn read_heredocs(&mut self) -> Result<(), SyntaxError> {
        let pending = std::mem::take(&mut self.pending);
        for h in pending {
            let body_start = self.pos;
            let mut line_start = self.pos;
            let body_end;
            loop {
                if line_start >= self.end {
                    return Err(SyntaxError::new(
                        h.delim_span.start,
                        format!("here-document delimited by `{}` is not terminated", h.delim),
                    ));
                }
                let line_end = self.src[line_start..self.end]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.end, |p| line_start + p);
                let mut content = &self.text[line_start..line_end];
                if h.strip_tabs {
                    content = content.trim_start_matches('\t');
                }
                if content == h.delim {
                    body_end = line_start;
                    self.pos = (line_end + 1).min(self.end);
                    break;
                }
                line_start = line_end + 1;
            }
            let after = self.pos;
            let saved_end = self.end;
            let saved_current = self.current;
            self.current = Some(h.command);
            self.pos = body_start;
            self.end = body_end;
            let result = if h.quoted {
                self.read_quoted_heredoc_body(&h)
            } else {
                self.read_double_quoted(Context::HeredocUnquoted)
                    .map(|_| ())
            };
            self.end = saved_end;
            self.current = saved_current;
            result?;
            self.pos = after;
        }
        Ok(())
    }

    fn read_quoted_heredoc_body(&mut self, h: &PendingHeredoc) -> Result<(), SyntaxError> {
        let first_site = self.script.sites.len();
        let mut escapes = Vec::new();
        while let Some(c) = self.peek() {
            if let Some(idx) = self.placeholder_here()? {
                let site = self.take_placeholder(idx, Context::HeredocQuoted)?;
                self.script.sites[site].role = Role::Stdin;
                continue;
            }
            if matches!(c, b'\\' | b'$' | b'`') {
                escapes.push(self.pos);
            }
            self.pos += 1;
        }
        if self.script.sites.len() == first_site {
            return Ok(());
        }
        // To expand the placeholders the body must become unquoted; escaping
        // `\`, `$` and `` ` `` keeps every other byte literal.
        if !h
            .delim
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(SyntaxError::new(
                h.delim_span.start,
                "a quoted here-document holding a placeholder needs a delimiter of letters, digits and `_`",
            ));
        }
        self.script.edits.push(Edit {
            range: h.delim_span.clone(),
            text: h.delim.clone(),
        });
        for at in escapes {
            self.script.edits.push(Edit {
                range: at..at,
                text: "\\".to_owned(),
            });
        }
        Ok(())
    }

    /// Reads one word in unquoted context, up to a metacharacter.
    fn read_word(&mut self, context: Context) -> Result<Word, SyntaxError> {
        let mut w = WordBuilder::default();
        loop {
            if let Some(idx) = self.placeholder_here()? {
                let site = self.take_placeholder(idx, context)?;
                w.placeholder(site);
                continue;
            }
            let Some(c) = self.peek() else { break };
            match c {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b')' => break,
                b'<' | b'>' | b'(' if self.peek_at(1) == Some(b'(') && c != b'(' => {
                    self.pos += 2;
                    self.read_substitution(&mut w)?;
                }
                b'<' | b'>' | b'(' => break,
                b'\\' => {
                    w.quoted = true;
                    w.end_plain();
                    self.pos += 1;
                    match self.peek() {
                        Some(b'\n') => self.pos += 1,
                        Some(n) => {
                            let len = utf8_len(n);
                            w.lit_quoted(&self.text[self.pos..self.pos + len]);
                            self.pos += len;
                            self.escape_end = self.pos;
                        }
                        None => {}
                    }
                }
                b'\'' => {
                    w.quoted = true;
                    w.end_plain();
                    self.pos += 1;
                    self.read_single_quoted(&mut w, Context::SingleQuoted)?;
                }
                b'"' => {
                    w.quoted = true;
                    w.end_plain();
                    self.pos += 1;
                    let inner = self.read_double_quoted(Context::DoubleQuoted)?;
                    w.append(inner);
                }
                b'$' if self.peek_at(1) == Some(b'\'') => {
                    w.quoted = true;
                    w.end_plain();
                    self.pos += 2;
                    self.read_single_quoted(&mut w, Context::AnsiC)?;
                }
                b'$' if self.peek_at(1) == Some(b'"') => {
                    w.quoted = true;
                    w.end_plain();
                    self.pos += 2;
                    let inner = self.read_double_quoted(Context::DoubleQuoted)?;
                    w.append(inner);
                }
                b'$' => self.read_dollar(&mut w)?,
                b'`' => self.read_backtick(&mut w)?,
                _ => {
                    let len = utf8_len(c);
                    w.lit(&self.text[self.pos..self.pos + len]);
                    self.pos += len;
                }
            }
        }
        Ok(w.finish())
    }

    /// Reads `'…'` or `$'…'` after the opening quote.
    fn read_single_quoted(
        &mut self,
        w: &mut WordBuilder,
        context: Context,
    ) -> Result<(), SyntaxError> {
        let start = self.pos;
        loop {
            if let Some(idx) = self.placeholder_here()? {
                let site = self.take_placeholder(idx, context)?;
                w.placeholder(site);
                continue;
            }
            match self.peek() {
                None => return Err(SyntaxError::new(start - 1, "unterminated quote")),
                Some(b'\'') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') if context == Context::AnsiC => {
                    // The escaped text is not decoded: only its shape matters
                    // here (`\cX` takes one character more). Skip whole
                    // characters: the escaped one may be multi-byte.
                    self.pos += 1;
                    let chars = if self.peek() == Some(b'c') { 2 } else { 1 };
                    for _ in 0..chars {
                        if let Some(c) = self.peek() {
                            self.pos = (self.pos + utf8_len(c)).min(self.end);
                        }
                    }
                    w.dynamic_text();
                }
                Some(c) => {
                    let len = utf8_len(c);
                    w.lit_quoted(&self.text[self.pos..self.pos + len]);
                    self.pos += len;
                }
            }
        }
    }

    /// Reads `"…"` after the opening quote, or a here-document body (up to
    /// `self.end`) when `context` is [`Context::HeredocUnquoted`].
    fn read_double_quoted(&mut self, context: Context) -> Result<WordBuilder, SyntaxError> {
        let heredoc = context == Context::HeredocUnquoted;
        let start = self.pos;
        let mut w = WordBuilder {
            quoted: true,
            in_quotes: true,
            ..WordBuilder::default()
        };
        loop {
            if let Some(idx) = self.placeholder_here()? {
                let site = self.take_placeholder(idx, context)?;
                if heredoc {
                    self.script.sites[site].role = Role::Stdin;
                }
                w.placeholder(site);
                continue;
            }
            let Some(c) = self.peek() else {
                if heredoc {
                    return Ok(w);
                }
                return Err(SyntaxError::new(start - 1, "unterminated double quote"));
            };
            match c {
                b'"' if !heredoc => {
                    self.pos += 1;
                    return Ok(w);
                }
                b'\\' => {
                    let escapable: &[u8] = if heredoc { b"$`\\\n" } else { b"$`\"\\\n" };
                    match self.peek_at(1) {
                        Some(n) if escapable.contains(&n) => {
                            if n != b'\n' {
                                w.lit(&self.text[self.pos + 1..self.pos + 2]);
                            }
                            self.pos += 2;
                            self.escape_end = self.pos;
                        }
                        _ => {
                            w.lit("\\");
                            self.pos += 1;
                        }
                    }
                }
                b'$' => self.read_dollar(&mut w)?,
                b'`' => self.read_backtick(&mut w)?,
                _ => {
                    let len = utf8_len(c);
                    w.lit(&self.text[self.pos..self.pos + len]);
                    self.pos += len;
                }
            }
        }
    }

    /// Reads an expansion starting with `$` (not `$'` or `$"`).
    fn read_dollar(&mut self, w: &mut WordBuilder) -> Result<(), SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        if let Some(ph) = self.phs.get(self.next_ph) {
            if ph.span.start == self.pos {
                return Err(SyntaxError::new(
                    ph.span.start,
                    format!(
                        "placeholder {{{{{}}}}} follows `$` directly; put a space or quote between them",
                        ph.name
                    ),
                ));
            }
        }
        match self.peek() {
            Some(b'(') if self.peek_at(1) == Some(b'(') => {
                self.pos += 2;
                self.skip_balanced_parens(2, start, "arithmetic `$((…))`")?;
                w.dynamic();
            }
            Some(b'(') => {
                self.pos += 1;
                self.read_substitution(w)?;
            }
            Some(b'{') => {
                self.pos += 1;
                let mut depth = 1usize;
                while depth > 0 {
                    match self.peek() {
                        None => return Err(SyntaxError::new(start, "`${` is not closed")),
                        Some(b'{') => depth += 1,
                        Some(b'}') => depth -= 1,
                        Some(b'\\') => self.pos += 1,
                        Some(q @ (b'\'' | b'"')) => {
                            let close = self.src[self.pos + 1..self.end]
                                .iter()
                                .position(|&b| b == q)
                                .ok_or_else(|| SyntaxError::new(start, "`${` is not closed"))?;
                            self.pos += close + 1;
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
                self.pos = self.pos.min(self.end);
                self.forbid_placeholders(start..self.pos, "a parameter expansion `${…}`")?;
                w.dynamic();
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                w.dynamic();
            }
            Some(c) if c.is_ascii_digit() || b"@*#?$!-".contains(&c) => {
                self.pos += 1;
                w.dynamic();
            }
            _ => w.lit("$"),
        }
        Ok(())
    }

    /// Reads the body of `$(…)`, `<(…)` or `>(…)` after the `(`: its commands
    /// are enclosed by the current one.
    fn read_substitution(&mut self, w: &mut WordBuilder) -> Result<(), SyntaxError> {
        let enclosing = self.current;
        self.parse_list(Term::Paren, enclosing)?;
        w.dynamic();
        Ok(())
    }

    fn read_backtick(&mut self, w: &mut WordBuilder) -> Result<(), SyntaxError> {
        let start = self.pos;
        let mut i = self.pos + 1;
        let mut backslash = false;
        let close = loop {
            if i >= self.end {
                return Err(SyntaxError::new(start, "unterminated backtick"));
            }
            match self.src[i] {
                b'\\' => {
                    backslash = true;
                    i += 2;
                    continue;
                }
                b'`' => break i,
                _ => i += 1,
            }
        };
        if backslash {
            // Bash removes backslashes before re-reading the text, so offsets
            // inside would not be ours: refuse placeholders there.
            self.forbid_placeholders(
                start..close,
                "backticks that contain backslashes (use `$(…)`)",
            )?;
            self.pos = close + 1;
            w.dynamic();
            return Ok(());
        }
        let saved_end = self.end;
        self.pos = start + 1;
        self.end = close;
        let enclosing = self.current;
        let result = self.parse_list(Term::Eof, enclosing);
        self.end = saved_end;
        result?;
        if !self.pending.is_empty() {
            return Err(SyntaxError::new(
                start,
                "here-documents inside backticks are not supported",
            ));
        }
        self.pos = close + 1;
        w.dynamic();
        Ok(())
    }
}

#[derive(Default)]
struct WordBuilder {
    parts: Vec<Part>,
    quoted: bool,
    plain_prefix: Option<usize>,
    /// The literal text, quoted characters special to expansion escaped.
    escaped: String,
    /// Whether its literal text is all quoted (the builder of `"…"`).
    in_quotes: bool,
}

/// Characters that brace, tilde or pathname expansion treat specially when
/// unquoted.
const EXPANSION_CHARS: &[char] = &['\\', '*', '?', '[', ']', '{', '}', ',', '~'];

impl WordBuilder {
    fn lit(&mut self, s: &str) {
        if self.in_quotes {
            return self.lit_quoted(s);
        }
        self.escaped.push_str(s);
        self.push_lit(s);
    }

    /// Literal text that was quoted or escaped: it expands to itself.
    fn lit_quoted(&mut self, s: &str) {
        for c in s.chars() {
            if EXPANSION_CHARS.contains(&c) {
                self.escaped.push('\\');
            }
            self.escaped.push(c);
        }
        self.push_lit(s);
    }

    fn push_lit(&mut self, s: &str) {
        if let Some(Part::Lit(t)) = self.parts.last_mut() {
            t.push_str(s);
        } else {
            self.parts.push(Part::Lit(s.to_owned()));
        }
    }

    /// Notes that the word's unquoted literal prefix ends here.
    fn end_plain(&mut self) {
        if self.plain_prefix.is_none() {
            self.plain_prefix = Some(match self.parts.as_slice() {
                [Part::Lit(t)] => t.len(),
                _ => 0,
            });
        }
    }

    fn placeholder(&mut self, site: usize) {
        self.end_plain();
        self.parts.push(Part::Placeholder(site));
    }

    fn dynamic(&mut self) {
        self.end_plain();
        self.parts.push(Part::Dynamic);
    }

    /// Text whose exact value this lexer does not decode (escapes in `$'…'`).
    fn dynamic_text(&mut self) {
        self.end_plain();
        if !matches!(self.parts.last(), Some(Part::Dynamic)) {
            self.parts.push(Part::Dynamic);
        }
    }

    fn append(&mut self, other: WordBuilder) {
        self.escaped.push_str(&other.escaped);
        for p in other.parts {
            match p {
                Part::Lit(t) => self.push_lit(&t),
                p => self.parts.push(p),
            }
        }
    }

    fn finish(mut self) -> Word {
        self.end_plain();
        Word {
            plain_prefix: self.plain_prefix.unwrap_or(0),
            parts: self.parts,
            quoted: self.quoted,
            escaped: self.escaped,
        }
    }
}

/// `NAME=…` or `NAME+=…` with an unquoted, literal NAME.
fn is_assignment(word: &Word) -> bool {
    let Some(Part::Lit(first)) = word.parts.first() else {
        return false;
    };
    let Some(eq) = first.find('=').filter(|eq| *eq < word.plain_prefix) else {
        return false;
    };
    let name = first[..eq].strip_suffix('+').unwrap_or(&first[..eq]);
    crate::grammar::is_valid_name(name)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}
