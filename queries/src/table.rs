//! Query results as text for a terminal: aligned columns, numbers to the
//! right, cells cut with `…` so that a line fits the width given.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// `schema` with every list column as text.
pub fn lists_as_text_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
                Field::new(f.name(), DataType::Utf8, true)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// `batches` with every list column as its text (`[a, b]`), for formats
/// without lists (CSV).
pub fn lists_as_text(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>, ArrowError> {
    let flat = lists_as_text_schema(schema);
    let options = FormatOptions::default();
    batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(flat.fields())
                .map(|(c, f)| {
                    if c.data_type() == f.data_type() {
                        return Ok(c.clone());
                    }
                    let text = ArrayFormatter::try_new(c.as_ref(), &options)?;
                    let values: StringArray =
                        (0..c.len()).map(|i| (!c.is_null(i)).then(|| text.value(i).to_string())).collect();
                    Ok(Arc::new(values) as ArrayRef)
                })
                .collect::<Result<Vec<_>, ArrowError>>()?;
            RecordBatch::try_new(flat.clone(), columns)
        })
        .collect()
}

/// Control characters (escape sequences, carriage returns) shown as
/// `\u{1b}`: user names and user agents are chosen by whoever signs in, and
/// must not drive the analyst's terminal.
fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// `s` cut to `width` characters, the last one an ellipsis when cut.
pub fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        s.chars().take(width.saturating_sub(1)).chain(['…']).collect()
    }
}

/// The longest a cell is shown before it is cut, and the narrowest a column
/// is squeezed to when the terminal is too narrow.
const MAX_CELL: usize = 60;
const MIN_COLUMN: usize = 6;

/// Aligned columns (numbers to the right), a rule under the header and the
/// row count; cells cut with `…` so a line fits `width` when one is given.
pub fn table(schema: &SchemaRef, batches: &[RecordBatch], width: Option<usize>) -> Result<String, ArrowError> {
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let numeric: Vec<bool> = schema.fields().iter().map(|f| f.data_type().is_numeric()).collect();
    let options = FormatOptions::default().with_null("");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options)).collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            rows.push(formatters.iter().map(|f| printable(&f.value(r).to_string())).collect());
        }
    }
    let chars = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| chars(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(chars(cell).min(MAX_CELL));
        }
    }
    if let Some(limit) = width {
        let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
        while total(&widths) > limit {
            let (i, &widest) = widths.iter().enumerate().max_by_key(|(_, w)| **w).expect("a column");
            if widest <= MIN_COLUMN {
                break;
            }
            widths[i] -= 1;
        }
    }
    let line = |cells: &[String], align_numbers: bool| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&numeric)
            .map(|((c, &w), &num)| {
                let c = cut(c, w);
                if num && align_numbers { format!("{c:>w$}") } else { format!("{c:<w$}") }
            })
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&headers, false);
    out += &line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(), false);
    for row in &rows {
        out += &line(row, true);
    }
    out += &format!("({} row{})\n", rows.len(), if rows.len() == 1 { "" } else { "s" });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

    fn batch() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("country", DataType::Utf8, true),
            Field::new("failures", DataType::Int64, false),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("GB"), None, Some("a very long reason text that goes on")])),
                Arc::new(Int64Array::from(vec![7, 12345, 0])),
            ],
        )
        .unwrap();
        (schema, b)
    }

    #[test]
    fn a_table_aligns_numbers_right_and_counts_rows() {
        let (schema, b) = batch();
        let t = table(&schema, &[b], None).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        // The column is as wide as its longest cell (36 characters).
        assert_eq!(lines[0], format!("{:<36}  failures", "country"));
        assert_eq!(lines[1], format!("{}  {}", "-".repeat(36), "-".repeat(8)));
        assert_eq!(lines[2], format!("{:<36}  {:>8}", "GB", 7));
        assert_eq!(lines[3], format!("{:<36}  {:>8}", "", 12345));
        assert_eq!(lines.last(), Some(&"(3 rows)"));
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        let schema = Arc::new(Schema::new(vec![Field::new("username", DataType::Utf8, false)]));
        let b = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec!["eve\u{1b}[2J\rroot"]))])
            .unwrap();
        let t = table(&schema, &[b], None).unwrap();
        assert!(t.contains("eve\\u{1b}[2J\\u{d}root"), "{t}");
        assert!(!t.contains('\u{1b}') && !t.contains('\r'));
    }

    #[test]
    fn lists_become_text_for_csv() {
        use datafusion::arrow::array::ListBuilder;
        use datafusion::arrow::array::StringBuilder;
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("new_country:AU");
        list.values().append_value("new_device");
        list.append(true);
        list.append(false);
        let list = list.finish();
        let schema = Arc::new(Schema::new(vec![Field::new("reasons", list.data_type().clone(), true)]));
        let b = RecordBatch::try_new(schema.clone(), vec![Arc::new(list)]).unwrap();
        let flat = lists_as_text(&schema, &[b]).unwrap();
        let text = flat[0].column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(text.value(0), "[new_country:AU, new_device]");
        assert!(text.is_null(1));
    }

    #[test]
    fn a_table_is_cut_to_the_width_given() {
        let (schema, b) = batch();
        let t = table(&schema, &[b], Some(24)).unwrap();
        assert!(t.lines().all(|l| l.chars().count() <= 24), "{t}");
        // 14 + 2 + 8: the widest column gave way, cut with an ellipsis.
        assert!(t.contains("a very long r…  "), "{t}");
        let empty = table(&schema, &[], Some(24)).unwrap();
        assert_eq!(empty.lines().last(), Some("(0 rows)"));
    }
}
