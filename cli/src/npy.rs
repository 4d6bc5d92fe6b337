//! numpy's `.npy` format (versions 1 to 3): little-endian or single-byte dtypes, C order.

use anyhow::{Context, Result, bail};

use crate::array::{Array, ElemType};

const MAGIC: &[u8] = b"\x93NUMPY";

pub fn parse(file: &[u8]) -> Result<Array> {
    let rest = file.strip_prefix(MAGIC).context("not a .npy file (no \\x93NUMPY magic)")?;
    let (header_len, offset) = match rest.first() {
        Some(1) => (u16::from_le_bytes([rest[2], rest[3]]) as usize, 4),
        Some(2 | 3) if rest.len() >= 6 => (u32::from_le_bytes(rest[2..6].try_into()?) as usize, 6),
        _ => bail!("unsupported .npy version"),
    };
    let header = rest.get(offset..offset + header_len).context("truncated .npy header")?;
    let header = std::str::from_utf8(header).context(".npy header is not text")?;
    let descr = field(header, "descr")?.trim_matches(|c| c == '\'' || c == '"');
    let ty = match descr {
        "<f4" => ElemType::F32,
        "<f8" => ElemType::F64,
        "<f2" => ElemType::F16,
        "<i8" => ElemType::I64,
        "<i4" => ElemType::I32,
        "|i1" => ElemType::I8,
        "|u1" => ElemType::U8,
        "|b1" => ElemType::Bool,
        other => bail!("unsupported .npy dtype '{other}' (expected <f4, <f8, <f2, <i8, <i4, |i1, |u1 or |b1)"),
    };
    if field(header, "fortran_order")? != "False" {
        bail!("Fortran-ordered .npy arrays are not supported: save with np.ascontiguousarray");
    }
    let shape = field(header, "shape")?;
    let shape: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().with_context(|| format!("bad .npy dimension '{d}'")))
        .collect::<Result<_>>()?;
    let data = &rest[offset + header_len..];
    let len: usize = shape.iter().product();
    let want = len * ty.size();
    if data.len() != want {
        bail!("the .npy data holds {} bytes, shape {shape:?} of {} needs {want}", data.len(), ty.name());
    }
    Array::new(ty, shape, data.to_vec())
}

/// Writes `a` as a version 1.0 `.npy` file. bfloat16 has no numpy dtype: it is refused.
pub fn write(a: &Array) -> Result<Vec<u8>> {
    let descr = match a.ty {
        ElemType::F32 => "<f4",
        ElemType::F64 => "<f8",
        ElemType::F16 => "<f2",
        ElemType::I64 => "<i8",
        ElemType::I32 => "<i4",
        ElemType::I8 => "|i1",
        ElemType::U8 => "|u1",
        ElemType::Bool => "|b1",
        ElemType::BF16 => bail!("numpy has no bfloat16 dtype"),
    };
    let dims: Vec<String> = a.shape.iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so the data starts on a 64-byte boundary, ending the header with a newline.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut file = MAGIC.to_vec();
    file.extend_from_slice(&[1, 0]);
    file.extend_from_slice(&u16::try_from(header.len())?.to_le_bytes());
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&a.bytes);
    Ok(file)
}

/// The text of `'key': value` in the header dict, up to the next top-level comma.
fn field<'a>(header: &'a str, key: &str) -> Result<&'a str> {
    let start = header.find(&format!("'{key}'")).with_context(|| format!(".npy header has no '{key}'"))?;
    let value = header[start + key.len() + 2..].trim_start().strip_prefix(':').context("bad .npy header")?.trim_start();
    let end = if value.starts_with('(') { value.find(')').map(|i| i + 1) } else { value.find([',', '}']) };
    Ok(value[..end.context("bad .npy header")?].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while !(MAGIC.len() + 4 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&[1, 0]);
        file.extend_from_slice(&(header.len() as u16).to_le_bytes());
        file.extend_from_slice(header.as_bytes());
        file.extend_from_slice(data);
        file
    }

    #[test]
    fn reads_shapes_and_types() {
        let data: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse(&npy("<f4", "(1, 2)", &data)).unwrap();
        assert_eq!((a.ty, a.shape.clone(), a.to_vec::<f32>()), (ElemType::F32, vec![1, 2], vec![1.5, -2.0]));
        let scalar = parse(&npy("<f8", "()", &7.0f64.to_le_bytes())).unwrap();
        assert_eq!((scalar.shape.len(), scalar.value(0)), (0, 7.0));
        let one = parse(&npy("<i8", "(3,)", &[0; 24])).unwrap();
        assert_eq!(one.shape, [3]);
    }

    #[test]
    fn writes_what_it_reads() {
        let a = Array::from_slice(ElemType::F16, vec![2, 1, 3], &[half::f16::from_f32(-1.5); 6]).unwrap();
        let file = write(&a).unwrap();
        assert!((MAGIC.len() + 4 + u16::from_le_bytes([file[8], file[9]]) as usize).is_multiple_of(64));
        assert_eq!(parse(&file).unwrap(), a);
        let v = Array::from_slice(ElemType::I64, vec![3], &[1i64, 2, 3]).unwrap();
        assert_eq!(parse(&write(&v).unwrap()).unwrap(), v);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(parse(&npy(">f4", "(1,)", &[0; 4])).unwrap_err().to_string().contains("unsupported .npy dtype '>f4'"));
        assert!(parse(&npy("<f4", "(2,)", &[0; 4])).unwrap_err().to_string().contains("needs 8"));
        assert!(parse(b"PK\x03\x04").is_err());
    }
}
