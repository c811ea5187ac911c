//! A fixed-capacity list that lives inline in a `Copy` record.

/// Up to `N` values stored inline. Pushing past capacity is refused (and reported), never allocated.
/// Equality looks at the stored values only.
#[derive(Clone, Copy)]
pub struct Bounded<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: u8,
}

impl<T: Copy + Default, const N: usize> Default for Bounded<T, N> {
    fn default() -> Self {
        Bounded { items: [T::default(); N], len: 0 }
    }
}

impl<T: Copy + Default, const N: usize> Bounded<T, N> {
    /// The capacity.
    pub const CAPACITY: usize = N;

    /// Appends `v`; returns `false` (and drops `v`) when full.
    #[inline]
    pub fn push(&mut self, v: T) -> bool {
        match self.items.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = v;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The stored values.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.items[..usize::from(self.len)]
    }

    /// Number of stored values.
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether nothing is stored.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every value.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> PartialEq for Bounded<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Copy + Default + Eq, const N: usize> Eq for Bounded<T, N> {}

macro_rules! empty {
    ($($t:ty = $zero:expr),*) => {$(
        impl<const N: usize> Bounded<$t, N> {
            /// An empty list (usable in constants).
            pub const EMPTY: Self = Bounded { items: [$zero; N], len: 0 };
        }
    )*};
}
empty!(u8 = 0, u32 = 0, super::Addr = super::Addr::NONE);

impl<T: Copy + Default + std::fmt::Debug, const N: usize> std::fmt::Debug for Bounded<T, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Bounded;

    #[test]
    fn push_past_capacity_is_refused_not_grown() {
        let mut b: Bounded<u32, 2> = Bounded::default();
        assert!(b.is_empty());
        assert!(b.push(1));
        assert!(b.push(2));
        assert!(!b.push(3));
        assert_eq!(b.as_slice(), &[1, 2]);
        assert_eq!(b.len(), 2);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(format!("{b:?}"), "[]");
        assert_eq!(b, Bounded::<u32, 2>::EMPTY);
    }
}
