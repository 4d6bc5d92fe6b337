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
        t.raw_data =
            self.values.iter().flat_map(|&v| self.elem_type.nearest(v).to_le_bytes()[..size].to_vec()).collect();
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
