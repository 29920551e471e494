//! WebCrypto, reached through the runtime's global `crypto`: random bytes for tokens and the
//! RS256 check of Access JWTs. The runtime does the RSA arithmetic, so the wasm carries none.

use platform_notifications::jwt::Jwk;
use worker::js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

const RS256: &str = "RSASSA-PKCS1-v1_5";

fn describe(error: JsValue) -> String {
    error
        .as_string()
        .or_else(|| {
            Reflect::get(&error, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{error:?}"))
}

fn get(target: &JsValue, name: &str) -> Result<JsValue, String> {
    Reflect::get(target, &name.into()).map_err(describe)
}

fn crypto() -> Result<JsValue, String> {
    get(&worker::js_sys::global(), "crypto")
}

/// Calls `target.method(...args)`, awaiting the promise it returns if it returns one.
async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let function: Function = get(target, method)?
        .dyn_into()
        .map_err(|_| format!("crypto has no {method}"))?;
    let arguments: Array = args.iter().collect();
    let value = function.apply(target, &arguments).map_err(describe)?;
    match value.dyn_into::<Promise>() {
        Ok(promise) => JsFuture::from(promise).await.map_err(describe),
        Err(value) => Ok(value),
    }
}

fn object(fields: &[(&str, JsValue)]) -> Result<Object, String> {
    let object = Object::new();
    for (name, value) in fields {
        Reflect::set(&object, &(*name).into(), value).map_err(describe)?;
    }
    Ok(object)
}

/// `N` bytes from the runtime's cryptographic random source.
pub async fn random<const N: usize>() -> Result<[u8; N], String> {
    let buffer = Uint8Array::new_with_length(N as u32);
    call(&crypto()?, "getRandomValues", &[buffer.clone().into()]).await?;
    let mut bytes = [0u8; N];
    buffer.copy_to(&mut bytes);
    Ok(bytes)
}

/// Whether `signature` is `key`'s RS256 signature of `data`.
pub async fn verify_rs256(key: &Jwk, data: &[u8], signature: &[u8]) -> Result<bool, String> {
    let subtle = get(&crypto()?, "subtle")?;
    let jwk = object(&[
        ("kty", "RSA".into()),
        ("n", key.n.as_str().into()),
        ("e", key.e.as_str().into()),
        ("alg", "RS256".into()),
        ("ext", JsValue::TRUE),
    ])?;
    let algorithm = object(&[("name", RS256.into()), ("hash", "SHA-256".into())])?;
    let usages: Array = [JsValue::from("verify")].iter().collect();
    let imported = call(
        &subtle,
        "importKey",
        &[
            "jwk".into(),
            jwk.into(),
            algorithm.into(),
            JsValue::FALSE,
            usages.into(),
        ],
    )
    .await?;
    let verified = call(
        &subtle,
        "verify",
        &[
            RS256.into(),
            imported,
            Uint8Array::from(signature).into(),
            Uint8Array::from(data).into(),
        ],
    )
    .await?;
    Ok(verified.as_bool() == Some(true))
}
