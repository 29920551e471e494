//! R2 operations by billing class. Analytics reports S3 action names; Cloudflare bills them as
//! Class A (mutations and listings), Class B (reads) or not at all (deletes, aborts).

use super::AccountMetric;

const CLASS_A: &[&str] = &[
    "ListBuckets",
    "PutBucket",
    "ListObjects",
    "ListObjectsV2",
    // The analytics name of ListObjects on a bucket: a listing, so Class A.
    "ListBucket",
    "PutObject",
    "CopyObject",
    "CompleteMultipartUpload",
    "CreateMultipartUpload",
    "LifecycleStorageTierTransition",
    "ListMultipartUploads",
    "UploadPart",
    "UploadPartCopy",
    "ListParts",
    "PutBucketEncryption",
    "PutBucketCors",
    "PutBucketLifecycleConfiguration",
];

const CLASS_B: &[&str] = &[
    "HeadBucket",
    "HeadObject",
    "GetObject",
    "UsageSummary",
    "GetBucketEncryption",
    "GetBucketLocation",
    "GetBucketCors",
    "GetBucketLifecycleConfiguration",
];

const FREE: &[&str] = &[
    "DeleteObject",
    "DeleteObjects",
    "DeleteBucket",
    "AbortMultipartUpload",
];

/// The metric an R2 action counts towards, and whether the class is known. An action this table
/// does not know counts as Class A, the dearer class, so a new action never hides spend.
pub fn classify(action: &str) -> (AccountMetric, bool) {
    if CLASS_B.contains(&action) {
        (AccountMetric::R2ClassB, true)
    } else if FREE.contains(&action) {
        (AccountMetric::R2FreeOperations, true)
    } else {
        (AccountMetric::R2ClassA, CLASS_A.contains(&action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_fall_into_their_billing_class() {
        assert_eq!(classify("PutObject"), (AccountMetric::R2ClassA, true));
        assert_eq!(classify("ListBucket"), (AccountMetric::R2ClassA, true));
        assert_eq!(classify("GetObject"), (AccountMetric::R2ClassB, true));
        assert_eq!(classify("HeadObject"), (AccountMetric::R2ClassB, true));
        assert_eq!(classify("DeleteObject"), (AccountMetric::R2FreeOperations, true));
        assert_eq!(classify("SomethingNew"), (AccountMetric::R2ClassA, false));
    }
}
