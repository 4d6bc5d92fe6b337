//! The constant slopes of a pattern: read from a tensor, cast, negated and transposed as the
//! graph's nodes would, and written back as a new initializer.

use onnx_protobuf::TensorProto;

use crate::array::ElemType;
use crate::model;

/// A constant input: float element type, dimensions and values (widened to f64).
#[derive(Clone, Debug)]
pub(super) struct Constant {
    pub elem_type: ElemType,
    pub dims: Vec<i64>,
    pub values: Vec<f64>,
    /// One value that reached this type through a Cast / CastLike from float32: that
    /// float32, as ONNX Runtime's own LeakyRelu takes its alpha (never rounded to float16).
    pub uncast: Option<f32>,
}

impl Constant {
    /// A float32 scalar (a Constant node's `value_float`).
    pub fn scalar_f32(v: f32) -> Self {
        Constant { elem_type: ElemType::F32, dims: vec![], values: vec![f64::from(v)], uncast: None }
    }

    /// A float tensor's values, widened to f64; `None` for other types.
    pub fn from_tensor(t: &TensorProto) -> Option<Self> {
        let elem_type = float_type(t.data_type)?;
        let a = model::tensor_from_proto(t).ok()?;
        let values = (0..a.len()).map(|i| a.value(i)).collect();
        Some(Constant { elem_type, dims: t.dims.clone(), values, uncast: None })
    }

    /// The tensor of these values, each rounded to the element type, named `name`.
    pub fn to_tensor(&self, name: String) -> TensorProto {
        let mut t = TensorProto::new();
        t.name = name;
        t.data_type = self.elem_type.onnx_id();
        t.dims = self.dims.clone();
        let size = self.elem_type.size();
        let bits = self.values.iter().map(|&v| self.elem_type.nearest(v));
        t.raw_data = bits.flat_map(|b| b.to_le_bytes().into_iter().take(size)).collect();
        t
    }

    /// Every value negated (a Neg node, or `-s` folded into an Add).
    pub fn negated(self) -> Self {
        Constant { values: self.values.iter().map(|v| -v).collect(), uncast: self.uncast.map(|v| -v), ..self }
    }

    /// Cast to the float type with ONNX id `to`, each value rounded as the Cast would;
    /// `None` for a type that is not a float.
    pub fn cast(self, to: i32) -> Option<Self> {
        let to = float_type(to)?;
        let uncast = match (self.elem_type, self.values.as_slice()) {
            (ElemType::F32, &[v]) => Some(v as f32),
            _ => self.uncast,
        };
        let values = self.values.iter().map(|&v| to.value_of(to.nearest(v))).collect();
        Some(Constant { elem_type: to, values, dims: self.dims, uncast })
    }

    /// Broadcast to rank `perm.len()` (leading 1s), then transposed: dimension i of the
    /// result is dimension `perm[i]` of the padded constant.
    pub fn transposed(&self, perm: &[usize]) -> Option<Self> {
        let rank = perm.len();
        if self.dims.len() > rank || perm.iter().any(|&p| p >= rank) {
            return None;
        }
        let mut dims = vec![1i64; rank - self.dims.len()];
        dims.extend(&self.dims);
        let strides: Vec<i64> = (0..rank).map(|i| dims[i + 1..].iter().product()).collect();
        let out_dims: Vec<i64> = perm.iter().map(|&p| dims[p]).collect();
        let count: i64 = out_dims.iter().product();
        let values = (0..count)
            .map(|mut flat| {
                let mut source = 0;
                for i in (0..rank).rev() {
                    let index = flat % out_dims[i];
                    flat /= out_dims[i];
                    source += index * strides[perm[i]];
                }
                self.values[source as usize]
            })
            .collect();
        Some(Constant { elem_type: self.elem_type, dims: out_dims, values, uncast: self.uncast })
    }
}

/// The float type of an ONNX `TensorProto.DataType` id.
fn float_type(id: i32) -> Option<ElemType> {
    ElemType::from_onnx(id).filter(|t| t.is_float())
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;

    fn constant(elem_type: ElemType, dims: &[i64], values: &[f64]) -> Constant {
        Constant { elem_type, dims: dims.to_vec(), values: values.to_vec(), uncast: None }
    }

    #[test]
    fn a_cast_rounds_each_value_and_keeps_a_float32_scalar_uncast() {
        let c = constant(ElemType::F32, &[], &[f64::from(0.1f32)]).cast(10).unwrap();
        assert_eq!((c.elem_type, c.values[0]), (ElemType::F16, f16::from_f32(0.1).to_f64()));
        assert_eq!(c.uncast, Some(0.1f32));
        let c = constant(ElemType::F64, &[2], &[0.1, -1e300]).cast(1).unwrap();
        assert_eq!(c.values, [f64::from(0.1f32), f64::NEG_INFINITY]);
        assert_eq!(c.uncast, None, "only a float32 scalar is kept as it was");
        assert!(constant(ElemType::F32, &[], &[1.0]).cast(7).is_none(), "int64 is not a slope type");
    }

    #[test]
    fn a_tensor_round_trips_in_each_float_type() {
        for t in [ElemType::F32, ElemType::F64, ElemType::F16, ElemType::BF16] {
            let c = constant(t, &[3], &[0.5, -2.0, 0.0]);
            let back = Constant::from_tensor(&c.to_tensor("s".into())).unwrap();
            assert_eq!((back.elem_type, back.dims, back.values), (t, vec![3], c.values), "{t:?}");
        }
        let mut ints = constant(ElemType::F32, &[1], &[1.0]).to_tensor("i".into());
        ints.data_type = ElemType::I32.onnx_id();
        assert!(Constant::from_tensor(&ints).is_none());
    }

    #[test]
    fn a_transpose_pads_the_rank_then_moves_the_dimensions() {
        // [C, 1, 1] slopes of an NCHW PRelu, transposed to NHWC: [1, 1, 1, C].
        let c = constant(ElemType::F32, &[2, 1, 1], &[0.1, 0.2]).transposed(&[0, 2, 3, 1]).unwrap();
        assert_eq!((c.dims, c.values), (vec![1, 1, 1, 2], vec![0.1, 0.2]));
        let m = constant(ElemType::F32, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).transposed(&[1, 0]).unwrap();
        assert_eq!((m.dims, m.values), (vec![3, 2], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
        assert!(constant(ElemType::F32, &[2, 3], &[0.0; 6]).transposed(&[0]).is_none(), "rank above the perm's");
    }
}
