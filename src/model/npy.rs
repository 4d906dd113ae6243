//! `.npy` arrays made by other frameworks, read into tensors only after their header has been
//! checked against the file: LibTorch copies as many bytes as the header's shape asks for.

use std::path::Path;

use tch::{Kind, Tensor};

/// What a `.npy` header says.
#[derive(Debug, PartialEq)]
struct Header {
    kind: Kind,
    element_bytes: usize,
    shape: Vec<i64>,
    /// Where the data starts in the file.
    data_at: usize,
}

/// Reads the array in `path`. Errors say what is wrong with the file (not naming it: callers
/// do): truncated, a header that does not parse, a byte order or type LibTorch cannot hold.
pub fn read(path: &Path) -> Result<Tensor, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let header = header(&bytes)?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?))
        .ok_or_else(|| format!("the header declares an impossible shape {:?}", header.shape))?;
    let needed = count
        .checked_mul(header.element_bytes)
        .ok_or_else(|| format!("the header declares an impossible shape {:?}", header.shape))?;
    let data = &bytes[header.data_at..];
    if data.len() < needed {
        return Err(format!(
            "truncated: the header declares shape {:?}, {needed} bytes of data, but the file holds {}",
            header.shape,
            data.len()
        ));
    }
    Tensor::f_from_data_size(&data[..needed], &header.shape, header.kind)
        .map_err(|e| super::torch_message(&e.to_string()))
}

/// Parses the header of a `.npy` file (format versions 1 to 3).
fn header(bytes: &[u8]) -> Result<Header, String> {
    let not_npy = || "not a .npy file (no \\x93NUMPY header)".to_string();
    let rest = bytes.strip_prefix(b"\x93NUMPY").ok_or_else(not_npy)?;
    let (length, text_at) = match rest.first() {
        Some(1) if rest.len() >= 4 => {
            (usize::from(u16::from_le_bytes([rest[2], rest[3]])), 10usize)
        }
        Some(2 | 3) if rest.len() >= 6 => (
            u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize,
            12,
        ),
        Some(&version) if version <= 3 => return Err(not_npy()),
        Some(version) => return Err(format!("unknown .npy format version {version}")),
        None => return Err(not_npy()),
    };
    let data_at = text_at
        .checked_add(length)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            format!(
                "truncated: the header is {length} bytes long, but the file ends after {}",
                bytes.len().saturating_sub(text_at)
            )
        })?;
    let text = String::from_utf8_lossy(&bytes[text_at..data_at]);
    let descr = field(&text, "descr")
        .map(|v| v.trim_matches(['\'', '"']).to_string())
        .ok_or_else(|| format!("no descr (data type) in the header {:?}", text.trim()))?;
    if field(&text, "fortran_order").is_some_and(|v| v == "True") {
        return Err(
            "the array is in Fortran order; save it with np.ascontiguousarray(...) first".into(),
        );
    }
    let (kind, element_bytes) = kind_of(&descr)?;
    let shape_text =
        field(&text, "shape").ok_or_else(|| format!("no shape in the header {:?}", text.trim()))?;
    let shape = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<i64>().ok().filter(|&d| d >= 0))
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| format!("cannot read the shape {shape_text} in the header"))?;
    Ok(Header {
        kind,
        element_bytes,
        shape,
        data_at,
    })
}

/// The value of `'key': value` in the header's dict, up to the next top-level comma.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text
        .find(&format!("'{key}'"))
        .or_else(|| text.find(&format!("\"{key}\"")))?;
    let value = text[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = if value.starts_with('(') {
        value.find(')').map(|i| i + 1)?
    } else {
        value.find([',', '}']).unwrap_or(value.len())
    };
    Some(value[..end].trim())
}

/// The tensor kind and element size of a numpy type string (`<f4`, `|u1`, ...).
fn kind_of(descr: &str) -> Result<(Kind, usize), String> {
    if descr.starts_with('>') && !descr.ends_with("1") {
        return Err(format!(
            "the array is big-endian ({descr}); save it as little-endian, e.g. array.astype('<f4')"
        ));
    }
    Ok(match descr.trim_start_matches(['<', '>', '|', '=']) {
        "f2" | "e" => (Kind::Half, 2),
        "f4" | "f" => (Kind::Float, 4),
        "f8" | "d" => (Kind::Double, 8),
        "i1" | "b" => (Kind::Int8, 1),
        "u1" | "B" => (Kind::Uint8, 1),
        "b1" | "?" => (Kind::Bool, 1),
        "i2" | "h" => (Kind::Int16, 2),
        "i4" | "i" => (Kind::Int, 4),
        "i8" | "q" => (Kind::Int64, 8),
        "c8" | "F" => (Kind::ComplexFloat, 8),
        "c16" | "D" => (Kind::ComplexDouble, 16),
        other => {
            return Err(format!(
                "the array's data type {other:?} cannot be read; save probabilities as float32 or float64"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 1 `.npy` file.
    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        npy_ordered(descr, false, shape, data)
    }

    fn npy_ordered(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let header =
            format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}\n");
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn read_bytes(bytes: &[u8]) -> Result<Tensor, String> {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), bytes).unwrap();
        read(tmp.path())
    }

    #[test]
    fn a_whole_array_reads_with_its_shape_and_values() {
        let values: Vec<u8> = [0.25f32, 0.75, 1.0, 0.0, 0.5, 0.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let tensor = read_bytes(&npy("<f4", "(3, 2)", &values)).unwrap();
        assert_eq!(tensor.size(), vec![3, 2]);
        assert_eq!(tensor.kind(), Kind::Float);
        assert_eq!(tensor.double_value(&[0, 1]), 0.75);
        let scalar_row = read_bytes(&npy(
            "<i8",
            "(2,)",
            &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
        ))
        .unwrap();
        assert_eq!(scalar_row.size(), vec![2]);
        assert_eq!(scalar_row.int64_value(&[1]), 2);
    }

    #[test]
    fn a_short_file_is_refused_before_a_byte_is_copied() {
        let err = read_bytes(&npy("<f4", "(9, 3)", &[0u8; 20])).unwrap_err();
        assert!(
            err.starts_with("truncated") && err.contains("108 bytes"),
            "{err}"
        );
        let err = read_bytes(&npy("<f8", "(100000000000, 3)", &[0u8; 8])).unwrap_err();
        assert!(err.starts_with("truncated"), "{err}");
        let err = read_bytes(&npy("<f8", "(9223372036854775807, 4)", &[])).unwrap_err();
        assert!(err.contains("impossible shape"), "{err}");
        let mut long_header = b"\x93NUMPY\x02\x00".to_vec();
        long_header.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let err = read_bytes(&long_header).unwrap_err();
        assert!(err.starts_with("truncated: the header"), "{err}");
    }

    #[test]
    fn headers_that_cannot_be_read_say_why() {
        for (bytes, expected) in [
            (b"garbage".to_vec(), "not a .npy file"),
            (Vec::new(), "not a .npy file"),
            (npy(">f4", "(1,)", &[0; 4]), "big-endian"),
            (npy("|O", "(1,)", &[0; 8]), "cannot be read"),
            (npy("<f4", "(-1, 3)", &[0; 8]), "cannot read the shape"),
            (npy("<f4", "(9, three)", &[0; 8]), "cannot read the shape"),
        ] {
            let err = read_bytes(&bytes).unwrap_err();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let err = read_bytes(&npy_ordered("<f4", true, "(1,)", &[0; 4])).unwrap_err();
        assert!(err.contains("Fortran"), "{err}");
    }
}
