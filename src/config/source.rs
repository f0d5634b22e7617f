//! The text being parsed: turns hcl-edit byte spans into `line:column` and builds errors that
//! point at them.

use super::error::ConfigError;
use std::ops::Range;
use std::path::Path;

pub(crate) type Span = Option<Range<usize>>;

pub(crate) struct Source<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            file,
            text,
            line_starts,
        }
    }

    /// 1-based `(line, column)` of a byte offset; the column counts characters, not bytes.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }

    /// The source text of a span, shortened for messages.
    pub(crate) fn snippet(&self, span: &Span) -> String {
        let Some(range) = span.clone() else {
            return String::new();
        };
        let text = self.text.get(range).unwrap_or_default();
        let first_line = text.lines().next().unwrap_or_default();
        if first_line.chars().count() > 40 || first_line.len() < text.trim_end().len() {
            let short: String = first_line.chars().take(40).collect();
            format!("{short}…")
        } else {
            first_line.to_owned()
        }
    }

    pub(crate) fn invalid(
        &self,
        span: &Span,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = self.position(span.as_ref().map_or(0, |r| r.start));
        ConfigError::Invalid {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn missing(
        &self,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Missing {
            file: self.file.to_owned(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// A parse error. hcl-edit refuses repeated attributes and object keys while parsing; those
    /// get a message in our words, since the parser's ("expected unique attribute key") has no fix.
    pub(crate) fn syntax(&self, err: &hcl_edit::parser::Error) -> ConfigError {
        let (line, column) = (err.location().line(), err.location().column());
        let repeated = if err.message().contains("redefined attribute") {
            Some(("attribute", "each attribute may be set once per block"))
        } else if err.message().contains("redefined object key") {
            Some(("map key", "each key may appear once in a map"))
        } else {
            None
        };
        match repeated {
            Some((what, rule)) => ConfigError::Invalid {
                file: self.file.to_owned(),
                line,
                column,
                message: format!(
                    "{what} `{}` is set twice",
                    self.word_at(err.location().offset())
                ),
                fix: format!("remove one of them; {rule}"),
            },
            None => ConfigError::Syntax {
                file: self.file.to_owned(),
                line,
                column,
                message: err.message().to_owned(),
            },
        }
    }

    /// The identifier or quoted string starting at `offset`.
    fn word_at(&self, offset: usize) -> &str {
        let rest = self.text.get(offset..).unwrap_or_default();
        let end = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.find('"').map_or(rest.len(), |i| i + 2)
        } else {
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len())
        };
        &rest[..end]
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub(crate) fn closest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur.push(substitute.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// "did you mean `x`? " when there is a likely typo, then the allowed names.
pub(crate) fn unknown_name_fix(word: &str, allowed: &[&str]) -> String {
    let list = allowed
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest(word, allowed) {
        Some(best) => format!("did you mean `{best}`? allowed here: {list}"),
        None => format!("remove it; allowed here: {list}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = Source::new(Path::new("f.hcl"), "ab\nxé = 1\n\nz");
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(1), (1, 2));
        assert_eq!(src.position(3), (2, 1));
        // 'é' is two bytes: the '=' after it is byte 7 but column 4.
        assert_eq!(src.position(7), (2, 4));
        assert_eq!(src.position(11), (3, 1));
        assert_eq!(src.position(12), (4, 1));
        assert_eq!(src.position(999), (4, 2));
    }

    #[test]
    fn typos_get_a_suggestion_and_strangers_do_not() {
        let keys = ["region", "iac", "shared", "service", "state"];
        assert_eq!(closest("regoin", &keys), Some("region"));
        assert_eq!(closest("servcie", &keys), Some("service"));
        assert_eq!(closest("Region", &keys), Some("region"));
        assert_eq!(closest("colour", &keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn unknown_name_fix_lists_allowed_names() {
        let fix = unknown_name_fix("tiemout", &["timeout", "poll_interval"]);
        assert_eq!(
            fix,
            "did you mean `timeout`? allowed here: `timeout`, `poll_interval`"
        );
        let fix = unknown_name_fix("zzz", &["timeout"]);
        assert_eq!(fix, "remove it; allowed here: `timeout`");
    }

    #[test]
    fn snippets_are_short() {
        let text = "x = [\n  1,\n]";
        let src = Source::new(Path::new("f.hcl"), text);
        assert_eq!(src.snippet(&Some(4..text.len())), "[…");
        assert_eq!(src.snippet(&Some(0..1)), "x");
    }
}
