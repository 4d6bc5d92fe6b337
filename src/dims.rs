//! A tensor's dimensions, held inline up to rank 8, so that the hosts read a shape on every
//! compute call without allocating.

/// A shape: inline up to rank 8, on the heap beyond.
pub enum Dims {
    Inline([i64; 8], usize),
    Heap(Vec<i64>),
}

impl Dims {
    /// `rank` zeros, for a host to fill in.
    pub fn zeros(rank: usize) -> Self {
        if rank <= 8 { Dims::Inline([0; 8], rank) } else { Dims::Heap(vec![0; rank]) }
    }

    pub fn from_slice(dims: &[i64]) -> Self {
        let mut out = Self::zeros(dims.len());
        out.copy_from_slice(dims);
        out
    }
}

impl std::ops::Deref for Dims {
    type Target = [i64];

    fn deref(&self) -> &[i64] {
        match self {
            Dims::Inline(dims, rank) => &dims[..*rank],
            Dims::Heap(dims) => dims,
        }
    }
}

impl std::ops::DerefMut for Dims {
    fn deref_mut(&mut self) -> &mut [i64] {
        match self {
            Dims::Inline(dims, rank) => &mut dims[..*rank],
            Dims::Heap(dims) => dims,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rank_reads_back_what_was_written() {
        for rank in [0, 1, 8, 9, 12] {
            let want: Vec<i64> = (1..=rank as i64).collect();
            assert_eq!(&*Dims::from_slice(&want), &want[..]);
            assert!(matches!(Dims::zeros(rank), Dims::Inline(..)) == (rank <= 8), "rank {rank}");
        }
    }
}
