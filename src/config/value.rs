//! Attribute values: literals only. Each accessor checks the type and reports errors at the value
//! (or the offending element) with an example of the right spelling.

use super::error::ConfigError;
use super::limits::{duration_limit, human_limit, too_long};
use super::source::{closest, Source, Span};
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::Span as _;
use std::time::Duration;

/// One attribute's value, with what is needed to explain a mistake in it.
pub(crate) struct Value<'a> {
    pub(crate) src: &'a Source<'a>,
    /// Qualified name for messages, e.g. `health.timeout`.
    pub(crate) name: String,
    /// A correct spelling, e.g. `timeout = "5m"`.
    pub(crate) example: &'static str,
    pub(crate) expr: &'a Expression,
}

/// One `key = value` of a map whose values are any literal.
pub(crate) struct ObjectEntry<'a> {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: Value<'a>,
}

/// One `key = value` of a map, with the key's span for errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MapEntry {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: String,
}

impl<'a> Value<'a> {
    pub(crate) fn span(&self) -> Span {
        self.expr.span()
    }

    pub(crate) fn error(
        &self,
        span: &Span,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        self.src.invalid(span, message, fix)
    }

    fn example_fix(&self) -> String {
        format!("write e.g. `{}`", self.example)
    }

    /// Unwraps parentheses; rejects anything that is not a literal.
    fn literal(&self, expr: &'a Expression) -> Result<&'a Expression, ConfigError> {
        let span = expr.span();
        match expr {
            Expression::Parenthesis(p) => self.literal(p.inner()),
            Expression::Null(_)
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_)
            | Expression::Array(_)
            | Expression::Object(_) => Ok(expr),
            Expression::HeredocTemplate(_) => Err(self.error(
                &span,
                format!("`{}`: heredoc strings are not supported here; write a quoted string", self.name),
                self.example_fix(),
            )),
            Expression::Variable(var) => Err(self.error(
                &span,
                format!(
                    "`{}`: expressions are not supported here; write a literal (`{}` without quotes is a variable reference)",
                    self.name,
                    var.as_str()
                ),
                format!("quote it: `\"{}\"`", var.as_str()),
            )),
            Expression::StringTemplate(_) => Err(self.error(
                &span,
                format!("`{}`: expressions are not supported here; write a literal", self.name),
                format!(
                    "write the text out instead of interpolating with `${{…}}` (bluegreen's own placeholders, where allowed, have no `$`), e.g. `{}`",
                    self.example
                ),
            )),
            _ => Err(self.error(
                &span,
                format!("`{}`: expressions are not supported here; write a literal", self.name),
                format!(
                    "replace `{}` with a literal value, e.g. `{}`",
                    self.src.snippet(&span),
                    self.example
                ),
            )),
        }
    }

    fn type_error(&self, what: &str, expected: &str, found: &Expression) -> ConfigError {
        self.error(
            &found.span(),
            format!("`{what}` must be {expected}, found {}", type_name(found)),
            self.example_fix(),
        )
    }

    /// A string literal and its span.
    pub(crate) fn string(&self) -> Result<(String, Span), ConfigError> {
        match self.literal(self.expr)? {
            Expression::String(s) => Ok((s.value().clone(), s.span())),
            other => Err(self.type_error(&self.name, "a string", other)),
        }
    }

    /// A string that must be one of `allowed`; `extra` completes the list in the message.
    pub(crate) fn one_of<T: Clone>(
        &self,
        raw: &str,
        span: &Span,
        allowed: &[(&str, T)],
        extra: &str,
    ) -> Result<T, ConfigError> {
        if let Some((_, value)) = allowed.iter().find(|(name, _)| *name == raw) {
            return Ok(value.clone());
        }
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        let list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let fix = match closest(raw, &names) {
            Some(best) => format!("did you mean \"{best}\"? write e.g. `{}`", self.example),
            None => format!("write one of {list}{extra}, e.g. `{}`", self.example),
        };
        Err(self.error(
            span,
            format!(
                "`{}` is \"{raw}\"; expected one of {list}{extra}",
                self.name
            ),
            fix,
        ))
    }

    /// A humantime duration string: "200ms", "30s", "5m", "1h 30m", at most the field's limit
    /// (`limits.rs`).
    pub(crate) fn duration(&self) -> Result<Duration, ConfigError> {
        let expr = self.literal(self.expr)?;
        let Expression::String(s) = expr else {
            return Err(self.error(
                &expr.span(),
                format!(
                    "`{}` must be a duration string, found {}",
                    self.name,
                    type_name(expr)
                ),
                format!("write e.g. `{}` (a duration needs a unit)", self.example),
            ));
        };
        let d = humantime::parse_duration(s.value()).map_err(|_| {
            self.error(
                &s.span(),
                format!("`{}`: '{}' is not a duration", self.name, s.value()),
                format!(
                    "write e.g. \"30s\" or \"5m\" (units: ms, s, m, h), as in `{}`",
                    self.example
                ),
            )
        })?;
        let limit = duration_limit(&self.name);
        debug_assert!(
            limit.is_some(),
            "`{}` has no limit in DURATION_LIMITS",
            self.name
        );
        match limit {
            Some(limit) if d > limit.max => Err(self.error(
                &s.span(),
                too_long(&self.name, s.value(), limit),
                format!(
                    "write at most \"{}\", e.g. `{}`",
                    human_limit(limit.max),
                    self.example
                ),
            )),
            _ => Ok(d),
        }
    }

    /// A whole number (negative ones too, so the caller can say "out of range").
    pub(crate) fn integer(&self) -> Result<i64, ConfigError> {
        let expr = self.literal(self.expr)?;
        let Expression::Number(n) = expr else {
            return Err(self.type_error(&self.name, "a whole number", expr));
        };
        if let Some(i) = n.as_i64() {
            Ok(i)
        } else if n.as_u64().is_some() {
            Ok(i64::MAX)
        } else {
            Err(self.error(
                &expr.span(),
                format!(
                    "`{}` must be a whole number, found {}",
                    self.name,
                    n.value()
                ),
                self.example_fix(),
            ))
        }
    }

    /// A list of strings, each with its span.
    pub(crate) fn string_list(&self) -> Result<Vec<(String, Span)>, ConfigError> {
        let expr = self.literal(self.expr)?;
        let Expression::Array(array) = expr else {
            return Err(self.type_error(&self.name, "a list of strings", expr));
        };
        array
            .iter()
            .enumerate()
            .map(|(i, item)| match self.literal(item)? {
                Expression::String(s) => Ok((s.value().clone(), s.span())),
                other => Err(self.type_error(&format!("{}[{i}]", self.name), "a string", other)),
            })
            .collect()
    }

    /// A map whose values are strings, numbers or bools (the latter two stringified as written
    /// in HCL). Keys are names or quoted strings; each key may appear once.
    pub(crate) fn scalar_map(&self) -> Result<Vec<MapEntry>, ConfigError> {
        self.object("a map")?
            .into_iter()
            .map(|entry| {
                Ok(MapEntry {
                    value: self.scalar(&entry.value.name, entry.value.expr)?,
                    key: entry.key,
                    key_span: entry.key_span,
                })
            })
            .collect()
    }

    /// This value's elements, each named `name[i]` and explained with `example`.
    pub(crate) fn list(
        &self,
        expected: &str,
        example: &'static str,
    ) -> Result<Vec<Value<'a>>, ConfigError> {
        let expr = self.literal(self.expr)?;
        let Expression::Array(array) = expr else {
            return Err(self.type_error(&self.name, expected, expr));
        };
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, item)| self.inner(format!("{}[{i}]", self.name), example, item))
            .collect())
    }

    /// This value's `key = value` entries in order, each value named `name.key`. Keys are names
    /// or quoted strings; each key may appear once.
    pub(crate) fn object(&self, expected: &str) -> Result<Vec<ObjectEntry<'a>>, ConfigError> {
        let expr = self.literal(self.expr)?;
        let Expression::Object(object) = expr else {
            return Err(self.type_error(&self.name, expected, expr));
        };
        let mut entries: Vec<ObjectEntry<'a>> = Vec::with_capacity(object.len());
        for (key, value) in object.iter() {
            let key_span = key.span();
            let key = self.map_key(key)?;
            if let Some(first) = entries.iter().find(|e| e.key == key) {
                let (line, _) = self
                    .src
                    .position(first.key_span.as_ref().map_or(0, |r| r.start));
                return Err(self.error(
                    &key_span,
                    format!("`{}` sets `{key}` twice (first at line {line})", self.name),
                    "remove one of them",
                ));
            }
            let value = self.inner(format!("{}.{key}", self.name), self.example, value.expr());
            entries.push(ObjectEntry {
                key,
                key_span,
                value,
            });
        }
        Ok(entries)
    }

    /// A value inside this one (a list element or a map entry).
    pub(crate) fn inner(
        &self,
        name: String,
        example: &'static str,
        expr: &'a Expression,
    ) -> Value<'a> {
        Value {
            src: self.src,
            name,
            example,
            expr,
        }
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&self) -> Result<bool, ConfigError> {
        match self.literal(self.expr)? {
            Expression::Bool(b) => Ok(*b.value()),
            other => Err(self.type_error(&self.name, "true or false", other)),
        }
    }

    fn map_key(&self, key: &'a ObjectKey) -> Result<String, ConfigError> {
        match key {
            ObjectKey::Ident(ident) => Ok(ident.as_str().to_owned()),
            ObjectKey::Expression(Expression::String(s)) => Ok(s.value().clone()),
            ObjectKey::Expression(other) => Err(self.error(
                &other.span(),
                format!("`{}`: map keys must be names or quoted strings", self.name),
                format!(
                    "replace `{}` with a literal key, e.g. `{}`",
                    self.src.snippet(&other.span()),
                    self.example
                ),
            )),
        }
    }

    fn scalar(&self, what: &str, expr: &'a Expression) -> Result<String, ConfigError> {
        match self.literal(expr)? {
            Expression::String(s) => Ok(s.value().clone()),
            Expression::Number(n) => Ok(n.value().to_string()),
            Expression::Bool(b) => Ok(b.value().to_string()),
            other @ (Expression::Array(_) | Expression::Object(_)) => Err(self.error(
                &other.span(),
                format!(
                    "`{what}` must be a string, number or bool, found {}",
                    type_name(other)
                ),
                "put structured values in a var file (`var_files`), which can hold any HCL type",
            )),
            other => Err(self.type_error(what, "a string, number or bool", other)),
        }
    }
}

/// "a string", "a number", …, as in "expected a string, found a number".
pub(crate) fn type_name(expr: &Expression) -> &'static str {
    match expr {
        Expression::Null(_) => "null",
        Expression::Bool(_) => "a bool",
        Expression::Number(_) => "a number",
        Expression::String(_) | Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => {
            "a string"
        }
        Expression::Array(_) => "a list",
        Expression::Object(_) => "a map",
        _ => "an expression",
    }
}
