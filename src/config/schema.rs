//! The shape check of one body (the top level or one block): every attribute and block must be a
//! known name of the right kind and appear once. Blocks take no labels, except the few declared
//! with [`labeled_block`], which take exactly one (a name), may repeat, and must not repeat a name.
//! What passes is looked up by name afterwards.

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
    /// A block that takes one label (its name) and may repeat with different labels.
    labeled: bool,
}

pub(crate) const fn attr(name: &'static str, example: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Attr,
        example,
        labeled: false,
    }
}

pub(crate) const fn block(name: &'static str, example: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Block,
        example,
        labeled: false,
    }
}

/// A block written `name "label" { … }`, repeated once per label (e.g. `http "smoke" { … }`).
pub(crate) const fn labeled_block(name: &'static str, example: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Block,
        example,
        labeled: true,
    }
}

/// A body whose shape has been checked.
pub(crate) struct Section<'a> {
    pub(crate) src: &'a Source<'a>,
    /// `None` for the top level.
    pub(crate) block: Option<&'a Block>,
    /// Dotted name of the block for messages: empty at the top level, `health`,
    /// `health.alarms`, `health.http.smoke`.
    path: String,
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
        Section::read(src, None, String::new(), body, fields)
    }

    /// A block of the top level.
    pub(crate) fn nested(
        src: &'a Source<'a>,
        block: &'a Block,
        fields: &'static [Field],
    ) -> Result<Self, ConfigError> {
        let path = block.ident.as_str().to_owned();
        Section::read(src, Some(block), path, &block.body, fields)
    }

    /// A block inside this one; a labeled block's label becomes part of its path.
    pub(crate) fn child(
        &self,
        block: &'a Block,
        fields: &'static [Field],
    ) -> Result<Section<'a>, ConfigError> {
        let mut path = self.qualified(block.ident.as_str());
        for label in block.labels.iter() {
            path = format!("{path}.{}", label.as_str());
        }
        Section::read(self.src, Some(block), path, &block.body, fields)
    }

    fn read(
        src: &'a Source<'a>,
        block: Option<&'a Block>,
        path: String,
        body: &'a Body,
        fields: &'static [Field],
    ) -> Result<Self, ConfigError> {
        let mut section = Section {
            src,
            block,
            path,
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
        if let (Structure::Block(b), true) = (structure, field.labeled) {
            self.check_label(field, b)?;
            self.blocks.push((field.name, b));
            return Ok(());
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

    /// Exactly one label, not used by an earlier block of the same name.
    fn check_label(&self, field: &Field, b: &'a Block) -> Result<(), ConfigError> {
        let name = field.name;
        let qualified = self.qualified(name);
        let Some(label) = b.labels.first() else {
            return Err(self.src.invalid(
                &b.ident.span(),
                format!("block `{qualified}` needs a label: its name"),
                format!("name it, e.g. `{}`", field.example),
            ));
        };
        if let Some(extra) = b.labels.get(1) {
            return Err(self.src.invalid(
                &extra.span(),
                format!(
                    "block `{qualified}` takes one label, found a second one `{}`",
                    self.src.snippet(&extra.span())
                ),
                format!(
                    "keep one name: write `{name} {} {{`",
                    self.src.snippet(&label.span())
                ),
            ));
        }
        let earlier = self.blocks(name).into_iter().find_map(|other| {
            let first = other.labels.first()?;
            (first.as_str() == label.as_str()).then(|| first.span())
        });
        if let Some(first) = earlier {
            let (line, _) = self.src.position(first.map_or(0, |r| r.start));
            return Err(self.src.invalid(
                &label.span(),
                format!(
                    "block `{name} {}` appears twice (first at line {line})",
                    self.src.snippet(&label.span())
                ),
                format!("give each `{name}` block its own name, or merge the two"),
            ));
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
            Some(_) => format!("in block `{}`", self.path),
        }
    }

    /// `name` at the top level, `block.name` inside a block (`health.http.smoke.url` deeper).
    pub(crate) fn qualified(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
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

    /// Every block of a name, in file order (for labeled blocks, which may repeat).
    pub(crate) fn blocks(&self, name: &str) -> Vec<&'a Block> {
        self.blocks
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, b)| *b)
            .collect()
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
                let mut header = b.ident.as_str().to_owned();
                for label in b.labels.iter() {
                    header = format!("{header} {}", self.src.snippet(&label.span()));
                }
                self.src.invalid(
                    &b.ident.span(),
                    format!(
                        "block `{}` is missing the required attribute `{name}`",
                        self.path
                    ),
                    format!("add e.g. `{example}` inside `{header} {{ … }}`"),
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
