//! The shape check of one body (the top level or one block): every attribute and block must be a
//! known name of the right kind, appear once, and blocks take no labels. What passes is looked
//! up by name afterwards.

use super::error::ConfigError;
use super::source::{unknown_name_fix, Source};
use super::value::Value;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::Span as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Attr,
    Block,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Attr => "attribute",
            Kind::Block => "block",
        }
    }
}

/// One allowed name in a body, with an example used in fixes.
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) example: &'static str,
}

pub(crate) const fn attr(name: &'static str, example: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Attr,
        example,
    }
}

pub(crate) const fn block(name: &'static str, example: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Block,
        example,
    }
}

/// A body whose shape has been checked.
pub(crate) struct Section<'a> {
    pub(crate) src: &'a Source<'a>,
    /// `None` for the top level.
    pub(crate) block: Option<&'a Block>,
    fields: &'static [Field],
    attrs: Vec<(&'static str, &'a Attribute)>,
    blocks: Vec<(&'static str, &'a Block)>,
}

impl<'a> Section<'a> {
    pub(crate) fn top(
        src: &'a Source<'a>,
        body: &'a Body,
        fields: &'static [Field],
    ) -> Result<Self, ConfigError> {
        Section::read(src, None, body, fields)
    }

    pub(crate) fn nested(
        src: &'a Source<'a>,
        block: &'a Block,
        fields: &'static [Field],
    ) -> Result<Self, ConfigError> {
        Section::read(src, Some(block), &block.body, fields)
    }

    fn read(
        src: &'a Source<'a>,
        block: Option<&'a Block>,
        body: &'a Body,
        fields: &'static [Field],
    ) -> Result<Self, ConfigError> {
        let mut section = Section {
            src,
            block,
            fields,
            attrs: Vec::new(),
            blocks: Vec::new(),
        };
        for structure in body.iter() {
            section.add(structure)?;
        }
        Ok(section)
    }

    fn add(&mut self, structure: &'a Structure) -> Result<(), ConfigError> {
        let (name, span, kind) = match structure {
            Structure::Attribute(a) => (a.key.as_str(), a.key.span(), Kind::Attr),
            Structure::Block(b) => (b.ident.as_str(), b.ident.span(), Kind::Block),
        };
        let Some(field) = self.fields.iter().find(|f| f.name == name) else {
            let allowed: Vec<&str> = self.fields.iter().map(|f| f.name).collect();
            return Err(self.src.invalid(
                &span,
                format!("unknown {} `{name}` {}", kind.noun(), self.where_()),
                unknown_name_fix(name, &allowed),
            ));
        };
        if field.kind != kind {
            return Err(self.wrong_kind(field, &span));
        }
        // hcl-edit already refuses a repeated attribute (see `Source::syntax`); blocks may repeat.
        if let Some(first) = self.block(name).and_then(|b| b.ident.span()) {
            let (line, _) = self.src.position(first.start);
            return Err(self.src.invalid(
                &span,
                format!("block `{name}` appears twice (first at line {line})"),
                format!("merge them into one `{name} {{ … }}` block"),
            ));
        }
        match structure {
            Structure::Attribute(a) => self.attrs.push((field.name, a)),
            Structure::Block(b) => {
                if let Some(label) = b.labels.first() {
                    return Err(self.src.invalid(
                        &label.span(),
                        format!(
                            "block `{name}` takes no labels, found `{}`",
                            self.src.snippet(&label.span())
                        ),
                        format!("remove the label: write `{name} {{`"),
                    ));
                }
                self.blocks.push((field.name, b));
            }
        }
        Ok(())
    }

    fn wrong_kind(&self, field: &Field, span: &super::source::Span) -> ConfigError {
        let name = field.name;
        match field.kind {
            Kind::Block => self.src.invalid(
                span,
                format!("`{name}` is a block, not an attribute"),
                format!(
                    "drop the `=`: write it as a block, e.g. `{}`",
                    field.example
                ),
            ),
            Kind::Attr => self.src.invalid(
                span,
                format!("`{}` is an attribute, not a block", self.qualified(name)),
                format!("write it with `=`, e.g. `{}`", field.example),
            ),
        }
    }

    /// "at the top level" or "in block `state`".
    fn where_(&self) -> String {
        match self.block {
            None => "at the top level".to_owned(),
            Some(b) => format!("in block `{}`", b.ident.as_str()),
        }
    }

    /// `name` at the top level, `block.name` inside a block.
    pub(crate) fn qualified(&self, name: &str) -> String {
        match self.block {
            None => name.to_owned(),
            Some(b) => format!("{}.{name}", b.ident.as_str()),
        }
    }

    fn field(&self, name: &str) -> &'static Field {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("`{name}` is not a field of this section"))
    }

    pub(crate) fn attr(&self, name: &str) -> Option<&'a Attribute> {
        self.attrs.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    pub(crate) fn block(&self, name: &str) -> Option<&'a Block> {
        self.blocks
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
    }

    /// The value of an optional attribute.
    pub(crate) fn value(&self, name: &str) -> Option<Value<'a>> {
        let field = self.field(name);
        self.attr(name).map(|a| Value {
            src: self.src,
            name: self.qualified(name),
            example: field.example,
            expr: &a.value,
        })
    }

    /// The value of a required attribute.
    pub(crate) fn require(&self, name: &str) -> Result<Value<'a>, ConfigError> {
        if let Some(value) = self.value(name) {
            return Ok(value);
        }
        let example = self.field(name).example;
        Err(match self.block {
            Some(b) => {
                let ident = b.ident.as_str();
                self.src.invalid(
                    &b.ident.span(),
                    format!("block `{ident}` is missing the required attribute `{name}`"),
                    format!("add e.g. `{example}` inside `{ident} {{ … }}`"),
                )
            }
            None => self.src.missing(
                format!("the required attribute `{name}` is missing"),
                format!("add e.g. `{example}` at the top level"),
            ),
        })
    }

    /// A required block (only the top level has them).
    pub(crate) fn require_block(&self, name: &str) -> Result<&'a Block, ConfigError> {
        self.block(name).ok_or_else(|| {
            self.src.missing(
                format!("the required block `{name}` is missing"),
                format!("add e.g. `{}`", self.field(name).example),
            )
        })
    }
}
