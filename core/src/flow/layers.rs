//! [`LayerStack`]: a sampled packet's encapsulation, packed into 8 bytes so it lives in the record.

use super::Layer;

/// Up to 12 [`Layer`]s, 4 bits each above a 4-bit count. `Copy`, 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LayerStack(u64);

impl LayerStack {
    /// Most layers held; further ones are refused.
    pub const CAPACITY: usize = 12;

    /// Appends `l`; `false` (and nothing stored) when full.
    #[inline]
    pub fn push(&mut self, l: Layer) -> bool {
        let n = self.0 & 0xf;
        if n >= Self::CAPACITY as u64 {
            return false;
        }
        self.0 = (self.0 | ((l as u64) << (4 * (n + 1)))) + 1;
        true
    }

    /// Number of layers.
    #[inline]
    pub fn len(&self) -> usize {
        (self.0 & 0xf) as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The layers, outermost first.
    pub fn iter(&self) -> impl Iterator<Item = Layer> + Clone + use<> {
        let packed = self.0;
        (0..self.len()).filter_map(move |i| Layer::from_i32(((packed >> (4 * (i + 1))) & 0xf) as i32))
    }

    /// Whether `l` is one of the layers.
    pub fn contains(&self, l: Layer) -> bool {
        self.iter().any(|x| x == l)
    }
}

impl std::fmt::Debug for LayerStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_pack_in_order_up_to_capacity() {
        let mut s = LayerStack::default();
        assert!(s.is_empty());
        let all = [Layer::Ethernet, Layer::Dot1Q, Layer::Mpls, Layer::IPv6, Layer::IPv6HeaderFragment, Layer::IcmpV6];
        for l in all.iter().cycle().take(12) {
            assert!(s.push(*l));
        }
        assert!(!s.push(Layer::Tcp));
        assert_eq!(s.len(), 12);
        assert_eq!(s.iter().take(6).collect::<Vec<_>>(), all);
        assert!(s.contains(Layer::IcmpV6));
        assert!(!s.contains(Layer::Tcp));
        assert_eq!(format!("{:?}", LayerStack::default()), "[]");
    }
}
