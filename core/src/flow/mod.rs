//! The flow record every decoder produces and every encoder consumes, and the reusable batch that holds
//! records between the two.

mod addr;
mod batch;
mod bounded;
mod layers;
mod record;

pub use addr::Addr;
pub use batch::{Batch, ExtraField, ExtraRange, InterfaceCounters};
pub use bounded::Bounded;
pub use layers::LayerStack;
pub use record::{FlowLists, FlowRecord, FlowType, Layer, ListsRef};
