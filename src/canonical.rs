//! Canonical JSON: every object's keys sorted, compact or pretty, every float a fixed point of
//! writing and reading. Shared by the plan artifact (its checksum and file form) and the
//! redacted plan (held as canonical text, not as a parsed `Value`: issue 16).

use std::collections::BTreeMap;
use std::io::Write;

use serde::ser::Error as _;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Number, Value};

/// Serializes a value with every object's keys in sorted order, without copying it.
/// serde_json's `Map` is sorted already unless some crate in the build turns on its
/// `preserve_order` feature (then it keeps insertion order); sorting each map's entries as it
/// is written gives sorted output either way.
///
/// `splice` puts canonical JSON text in place of one value of the tree (found by address,
/// not by content): the artifact's body holds the redacted plan that way, never parsed whole.
pub(crate) struct Sorted<'a>(pub &'a Value, pub Option<Splice<'a>>);

/// Canonical text standing in for the value at `at` (a placeholder inside the tree), copied
/// as it is: write it to a compact serializer (pretty output comes from [`Pretty`]).
#[derive(Clone, Copy)]
pub(crate) struct Splice<'a> {
    pub at: &'a Value,
    /// Canonical compact JSON (what [`Sorted`] writes for the value it stands for).
    pub raw: &'a RawValue,
}

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        if let Some(splice) = self.1.filter(|s| std::ptr::eq(s.at, self.0)) {
            // Already canonical: the bytes as they are.
            return splice.raw.serialize(serializer);
        }
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &Sorted(value, self.1))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Sorted(item, self.1))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// Pieces of JSON text at least this long are walked (objects by key, arrays by element)
/// instead of parsed whole, so serializing a large text never holds more than one small piece
/// parsed at a time.
const WALK_AT: usize = 4096;

/// JSON text serialized with sorted keys, read piece by piece: large objects and arrays are
/// split into borrowed pieces of the text, small pieces parsed into a `Value` one at a time.
/// The output is what [`Sorted`] writes for the parsed text.
pub(crate) struct RawTree<'a>(pub &'a RawValue);

impl Serialize for RawTree<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let text = self.0.get().trim_start();
        if text.len() >= WALK_AT {
            match text.as_bytes().first() {
                Some(b'{') => {
                    let map: BTreeMap<String, &RawValue> =
                        serde_json::from_str(text).map_err(S::Error::custom)?;
                    let mut out = serializer.serialize_map(Some(map.len()))?;
                    for (key, value) in &map {
                        out.serialize_entry(key, &RawTree(value))?;
                    }
                    return out.end();
                }
                Some(b'[') => {
                    let items: Vec<&RawValue> =
                        serde_json::from_str(text).map_err(S::Error::custom)?;
                    let mut out = serializer.serialize_seq(Some(items.len()))?;
                    for item in items {
                        out.serialize_element(&RawTree(item))?;
                    }
                    return out.end();
                }
                _ => {}
            }
        }
        let value: Value = serde_json::from_str(text).map_err(S::Error::custom)?;
        Sorted(&value, None).serialize(serializer)
    }
}

/// Canonical compact JSON of `value` (floats settled first, see [`settle`]) appended to `out`.
pub(crate) fn write_compact(out: &mut Vec<u8>, value: &Value) {
    serde_json::to_writer(out, &Sorted(value, None)).expect("JSON values always serialize");
}

fn read_back(n: &Number) -> Option<Number> {
    serde_json::from_str(&serde_json::to_string(n).ok()?).ok()
}

/// Whether some float of `value` does not read back as itself once written (serde_json's
/// default float parsing is not always correctly rounded).
pub(crate) fn has_unstable_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64() && read_back(n).as_ref() != Some(n),
        Value::Array(items) => items.iter().any(has_unstable_float),
        Value::Object(map) => map.values().any(has_unstable_float),
        _ => false,
    }
}

fn settle_floats(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(back) = read_back(n) {
                *n = back;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(settle_floats),
        Value::Object(map) => map.values_mut().for_each(settle_floats),
        _ => {}
    }
}

/// Replaces each float of `value` by what it reads back as, until every float reads back as
/// itself; `false` if that does not happen within a few rounds.
pub(crate) fn settle(value: &mut Value) -> bool {
    for _ in 0..4 {
        if !has_unstable_float(value) {
            return true;
        }
        settle_floats(value);
    }
    !has_unstable_float(value)
}

/// A writer that takes canonical compact JSON and writes it pretty-printed as serde_json's
/// `PrettyFormatter` does (two-space indent, `": "` after keys, `{}` and `[]` when empty),
/// byte by byte as it comes: no parse, nothing held. Correct for compact input only (no
/// whitespace between tokens), which is all [`Sorted`] and serde_json's compact writer produce.
pub(crate) struct Pretty<W: Write> {
    out: W,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// An opening bracket was written; its newline waits to see whether the container is empty.
    opened: bool,
    buf: Vec<u8>,
}

impl<W: Write> Pretty<W> {
    pub(crate) fn new(out: W) -> Pretty<W> {
        Pretty {
            out,
            depth: 0,
            in_string: false,
            escaped: false,
            opened: false,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    fn newline(&mut self) {
        self.buf.push(b'\n');
        for _ in 0..self.depth {
            self.buf.extend_from_slice(b"  ");
        }
    }

    /// Writes what is buffered and hands back the inner writer.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        self.out.write_all(&self.buf)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Pretty<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut rest = bytes;
        while let Some((&b, tail)) = rest.split_first() {
            // Bounded: a large write (a spliced text) is not held re-indented whole.
            if self.buf.len() >= 8 * 1024 {
                self.out.write_all(&self.buf)?;
                self.buf.clear();
            }
            if self.in_string {
                // Copy up to the next quote or backslash in one go.
                let run = rest
                    .iter()
                    .position(|&c| self.escaped || c == b'"' || c == b'\\')
                    .unwrap_or(rest.len());
                if run > 0 {
                    self.buf.extend_from_slice(&rest[..run]);
                    rest = &rest[run..];
                    continue;
                }
                self.buf.push(b);
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                rest = tail;
                continue;
            }
            if self.opened {
                self.opened = false;
                if b != b'}' && b != b']' {
                    self.newline();
                } else {
                    self.depth -= 1;
                    self.buf.push(b);
                    rest = tail;
                    continue;
                }
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.buf.push(b);
                }
                b'{' | b'[' => {
                    self.buf.push(b);
                    self.depth += 1;
                    self.opened = true;
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.newline();
                    self.buf.push(b);
                }
                b',' => {
                    self.buf.push(b',');
                    self.newline();
                }
                b':' => self.buf.extend_from_slice(b": "),
                _ => self.buf.push(b),
            }
            rest = tail;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A document large enough to be walked at several levels, keys out of order.
    fn big() -> Value {
        let items: Vec<Value> = (0..200)
            .map(|i| json!({"z": i, "a": format!("v\"{i}\"\n"), "m": {"y": [i, 0.5], "b": {}}}))
            .collect();
        json!({"zeta": items.clone(), "alpha": {"inner": items, "k": "é"}, "mid": [[], {}]})
    }

    #[test]
    fn the_raw_tree_writes_what_sorted_writes_for_the_parsed_text() {
        for value in [big(), json!([big(), 1]), json!(1.5), json!({}), json!("s")] {
            let text = serde_json::to_string(&value).unwrap();
            assert!(
                value != big() || text.len() > 4 * WALK_AT,
                "walked, not parsed whole"
            );
            let raw: &RawValue = serde_json::from_str(&text).unwrap();
            let pretty = serde_json::to_string_pretty(&RawTree(raw)).unwrap();
            assert_eq!(
                pretty,
                serde_json::to_string_pretty(&Sorted(&value, None)).unwrap()
            );
            let compact = serde_json::to_string(&RawTree(raw)).unwrap();
            let mut canonical = Vec::new();
            write_compact(&mut canonical, &value);
            assert_eq!(compact.as_bytes(), canonical);
        }
    }

    #[test]
    fn a_splice_stands_for_the_value_at_its_address_only() {
        let body = json!({"a": null, "b": null, "c": [null]});
        let raw: &RawValue = serde_json::from_str(r#"{"x":[1,2]}"#).unwrap();
        let at = body.pointer("/b").unwrap();
        let splice = Some(Splice { at, raw });
        let text = serde_json::to_string(&Sorted(&body, splice)).unwrap();
        assert_eq!(text, r#"{"a":null,"b":{"x":[1,2]},"c":[null]}"#);
    }

    #[test]
    fn pretty_from_compact_is_serde_jsons_pretty_form_whatever_the_write_boundaries() {
        let values = [
            big(),
            json!({"a": [], "b": {}, "c": [[]], "d": [{}], "e": {"f": {"g": []}}}),
            json!(["\"", "\\", "\\\"", "{[,:]}", "\u{1}\n\t", "é", ""]),
            json!({"k\"ey": {"\\": ["x", 1, -2.5e-7, null, true]}}),
            json!([]),
            json!({}),
            json!(7),
            json!("s"),
        ];
        for value in values {
            let mut compact = Vec::new();
            write_compact(&mut compact, &value);
            let expected = serde_json::to_string_pretty(&Sorted(&value, None)).unwrap();
            for chunk in [1, 2, 3, 7, 4096] {
                let mut pretty = Pretty::new(Vec::new());
                for piece in compact.chunks(chunk) {
                    pretty.write_all(piece).unwrap();
                }
                let out = pretty.finish().unwrap();
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    expected,
                    "chunks of {chunk}"
                );
            }
        }
    }
}
