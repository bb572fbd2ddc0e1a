//! The one registration of every kind of master data: which [`MasterKind`] each import type
//! is. Code that meets a kind at run time (an import job's type, a cross-check's target) comes
//! here for it.

use super::gl_account::GlAccounts;
use super::purchase_order::PurchaseOrders;
use super::tax_code::TaxCodes;
use super::tracking::TrackingCategories;
use super::MasterKind;
use crate::domain::supplier::SupplierCards;
use crate::domain::ImportType;

/// Work to do with a kind chosen at run time: [`with_kind`] calls `visit` with the kind of an
/// import type.
pub trait KindVisitor {
    type Output;
    fn visit<K: MasterKind>(self) -> Self::Output;
}

/// The one registration of every kind: which [`MasterKind`] an import type is.
pub fn with_kind<V: KindVisitor>(import_type: ImportType, visitor: V) -> V::Output {
    match import_type {
        ImportType::SupplierCards => visitor.visit::<SupplierCards>(),
        ImportType::GlAccounts => visitor.visit::<GlAccounts>(),
        ImportType::TaxCodes => visitor.visit::<TaxCodes>(),
        ImportType::TrackingCategories => visitor.visit::<TrackingCategories>(),
        ImportType::PurchaseOrders => visitor.visit::<PurchaseOrders>(),
    }
}

/// What other code needs to know of a kind chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    pub noun: &'static str,
    /// Where its records are kept: the partition's name and each sort key's prefix.
    pub partition: &'static str,
    pub item_prefix: &'static str,
}

/// The [`KindInfo`] of an import type.
pub fn kind_info(import_type: ImportType) -> KindInfo {
    struct Info;
    impl KindVisitor for Info {
        type Output = KindInfo;
        fn visit<K: MasterKind>(self) -> KindInfo {
            KindInfo {
                noun: K::NOUN,
                partition: K::PARTITION,
                item_prefix: K::ITEM_PREFIX,
            }
        }
    }
    with_kind(import_type, Info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_import_type_has_its_own_partition_and_prefix() {
        let mut seen = std::collections::HashSet::new();
        for t in ImportType::ALL {
            let info = kind_info(t);
            assert!(seen.insert(info.partition), "{}", info.partition);
            assert!(info.item_prefix.ends_with('#'), "{}", info.item_prefix);
        }
    }
}
