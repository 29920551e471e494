//! The redaction corpus: one sample per secret family that secret scanners detect (provider keys,
//! credentials in URLs, named secrets, card and national id numbers), each inside the text it
//! usually arrives in. Every value is made up; each has the shape of the real thing.

use std::time::Instant;

use platform_errors::redact::{redact, redact_url, MAX_SCAN};

/// (family, text, the secret part that must not survive).
const CORPUS: &[(&str, &str, &str)] = &[
    ("github classic token", "auth with ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s01 failed", "ghp_R4nd0mT0k3n"),
    ("github fine-grained token", "token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789abcdefgh", "github_pat_11ABCDEFG0123456789"),
    ("github oauth token", "gho_16C7e42F292c6912E7710c838347Ae178B4a rejected", "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("github app token", "ghs_16C7e42F292c6912E7710c838347Ae178B4a expired", "ghs_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("gitlab token", "GITLAB=glpat-xY9zA1bC2dE3fG4hI5jK", "glpat-xY9zA1bC2dE3fG4hI5jK"),
    ("slack bot token", "slack said invalid_auth for xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012"),
    ("slack user token", "using xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef", "xoxp-123456789012"),
    ("slack app token", "socket mode xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef", "xapp-1-A0123456789"),
    ("slack webhook url", "POST https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3 returned 404", "Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3"),
    ("slack webhook without scheme", "webhook hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3", "Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3"),
    ("discord webhook url", "https://discord.com/api/webhooks/1234567890123456789/aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7bC9dE1fG3hI5jK7lM9nO1pQ3r failed", "aB3dE5fG7hI9jK1lM3nO5"),
    ("stripe secret key", "Stripe: Invalid API Key provided: sk_live_51HcQx2Lm4Vb7Nc1Kd9Rt5Yw3Pz", "sk_live_51HcQx2Lm4Vb7"),
    ("stripe restricted key", "key rk_live_51HcQx2Lm4Vb7Nc1Kd9Rt5Yw3Pz", "rk_live_51HcQx2Lm4Vb7"),
    ("stripe test key", "key sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    ("stripe webhook secret", "No signatures found matching the expected signature for payload (secret whsec_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0Cd)", "whsec_Zx8Qp2Lm4Vb7"),
    ("aws access key id", "The AWS Access Key Id AKIAIOSFODNN7EXAMPLE does not exist", "AKIAIOSFODNN7EXAMPLE"),
    ("aws temporary key id", "assumed role with ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
    ("aws secret key named", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ("aws secret key bare", "SignatureDoesNotMatch with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ("aws session token", "X-Amz-Security-Token: FwoGZXIvYXdzEJr//////////wEaDOzJ3f8k1Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3", "FwoGZXIvYXdzEJr"),
    ("cloudflare api token named", "CLOUDFLARE_API_TOKEN=Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0Cd_eF-gH1jK", "Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0Cd"),
    ("cloudflare api token bare", "Authentication error 10000 for Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0Cd_eF-gH1jK", "Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0Cd"),
    ("cloudflare global api key", "X-Auth-Key: 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9", "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9"),
    ("cloudflare origin ca key", "v1.0-0123456789abcdef01234567-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab", "0123456789abcdef01234567-0123"),
    ("openai key", "OpenAI 401: Incorrect API key provided: sk-proj-Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1Gh2Ij3Kl4", "sk-proj-Zx8Qp2Lm4Vb7"),
    ("openai legacy key", "sk-Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3T3BlbkFJPz6Ab0CdEf1Gh2Ij3Kl4Mn", "sk-Zx8Qp2Lm4Vb7"),
    ("anthropic key", "x sk-ant-api03-Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1Gh2Ij3Kl4Mn5Op6Qr7St8Uv9Wx0Yz-AbCdEfAA", "sk-ant-api03-Zx8Qp2"),
    ("npm token", "npm ERR! 403 with npm_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1G", "npm_Zx8Qp2Lm4Vb7"),
    ("npmrc auth token", "//registry.npmjs.org/:_authToken=npm_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1G", "Zx8Qp2Lm4Vb7"),
    ("twilio api key", "Twilio key SK0123456789abcdef0123456789abcdef denied", "SK0123456789abcdef0123456789abcdef"),
    ("twilio auth token", "TWILIO_AUTH_TOKEN: 0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ("google api key", "maps said REQUEST_DENIED for AIzaSyD-Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0C", "AIzaSyD-Zx8Qp2Lm4Vb7"),
    ("google oauth token", "Bearer-less ya29.a0AfH6SMBx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1Gh2 used", "ya29.a0AfH6SMBx8Qp2"),
    ("google client secret", "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 in config", "GOCSPX-Zx8Qp2Lm4Vb7"),
    ("sendgrid key", "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 forbidden", "SG.Zx8Qp2Lm4Vb7"),
    ("mailgun key", "mailgun key-0123456789abcdef0123456789abcdef", "key-0123456789abcdef0123456789abcdef"),
    ("shopify token", "shpat_0123456789abcdef0123456789abcdef invalid", "shpat_0123456789abcdef"),
    ("digitalocean token", "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "dop_v1_0123456789abcdef"),
    ("hugging face token", "hf_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf refused", "hf_Zx8Qp2Lm4Vb7"),
    ("pypi token", "pypi-AgEIcHlwaS5vcmcCJDk1ZjY4Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1Gh2Ij3Kl4Mn5Op6Qr7", "pypi-AgEIcHlwaS5vcmcCJDk1"),
    ("databricks token", "dapi0123456789abcdef0123456789abcdef", "dapi0123456789abcdef"),
    ("vault token", "vault hvs.CAESIZx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1Gh2", "hvs.CAESIZx8Qp2Lm4Vb7"),
    ("linear key", "lin_api_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1Gh2Ij3K", "lin_api_Zx8Qp2Lm4Vb7"),
    ("square token", "sq0atp-Zx8Qp2Lm4Vb7Nc1Kd9Rt5Y", "sq0atp-Zx8Qp2Lm4Vb7"),
    ("planetscale token", "pscale_tkn_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1", "pscale_tkn_Zx8Qp2Lm4Vb7"),
    ("notion token", "ntn_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1Gh2Ij3Kl4", "ntn_Zx8Qp2Lm4Vb7"),
    ("grafana token", "glsa_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0Cd_0123abcd", "glsa_Zx8Qp2Lm4Vb7"),
    ("docker hub token", "dckr_pat_Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6", "dckr_pat_Zx8Qp2Lm4Vb7"),
    ("telegram bot token", "GET https://api.telegram.org/bot123456789:AAHZx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0C/sendMessage", "AAHZx8Qp2Lm4Vb7"),
    ("age secret key", "AGE-SECRET-KEY-1QQQZX8QP2LM4VB7NC1KD9RT5YW3PZ6AB0CDEF1GH2IJ3KL4MN5OP6QRST7U", "QQQZX8QP2LM4VB7"),
    ("jwt", "session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c rejected", "SflKxwRJSMeKKF2QT4fw"),
    ("private key", "loaded -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAZx8Qp2Lm4Vb7\n-----END RSA PRIVATE KEY----- ok", "MIIEowIBAAKCAQEAZx8Qp2Lm4Vb7"),
    ("url user and password", "connect https://deploy:Hunt3r2Pass@git.example.com/repo.git failed", "Hunt3r2Pass"),
    ("database url", "ECONNREFUSED postgres://admin:s3cr3tPa55@db.internal:5432/app", "s3cr3tPa55"),
    ("url password parameter", "GET https://api.example.com/login?user=bob&password=hunter2 failed", "hunter2"),
    ("url api key parameter", "fetch https://api.example.com/v1/items?api_key=AbC123xyz&page=2", "AbC123xyz"),
    ("url token in path", "GET https://shop.example/reset-password/tok7fK2pQ9xLm failed", "tok7fK2pQ9xLm"),
    ("url api token segment", "GET https://api.example/v1/token/tok7fK2pQ9xLm/refresh failed", "tok7fK2pQ9xLm"),
    ("password pair", "login failed: password=hunter2", "hunter2"),
    ("pwd pair", "DSN host=db user=app pwd=hunter2 dbname=x", "hunter2"),
    ("pass pair", "ftp pass=hunter2 rejected", "hunter2"),
    ("password json", r#"{"user":"bob","password":"hunter2 with spaces"}"#, "hunter2"),
    ("password yaml", "password: hunter2", "hunter2"),
    ("api_key pair", "api_key=Zq81pXk", "Zq81pXk"),
    ("x-api-key header", "x-api-key: Zq81pXk-local", "Zq81pXk-local"),
    ("x-api-key json", r#"{"X-Api-Key":"Zq81pXk"}"#, "Zq81pXk"),
    ("client secret json", r#"{"clientSecret": "S3CR3T-value"}"#, "S3CR3T-value"),
    ("bearer header", "Authorization: Bearer abc.def-SECRET", "SECRET"),
    ("basic header", "Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    ("bearer inline", "retrying with bearer Zq81pXkLm2Vb", "Zq81pXkLm2Vb"),
    ("cookie header", r#"{"headers":{"cookie":"session=SECRETCOOKIE; theme=dark"}}"#, "SECRETCOOKIE"),
    ("azure storage key", "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0CdEf1Gh2Ij3Kl4Mn5Op6Qr7St8Uv9Wx0Yz1+ab/cd==;EndpointSuffix=core.windows.net", "Zx8Qp2Lm4Vb7Nc1Kd9"),
    ("entropy after key-like name", "signing_key: Zx8Qp2Lm4Vb7Nc1Kd9Rt", "Zx8Qp2Lm4Vb7Nc1Kd9Rt"),
    ("entropy after auth name", "auth=Zx8Qp2Lm4Vb7Nc1Kd9Rt", "Zx8Qp2Lm4Vb7Nc1Kd9Rt"),
    ("long hex key", "hmac key 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 rejected", "9f86d081884c7d659a2feaa0c55ad015"),
    ("email", "contact jane.doe@example.com now", "jane.doe@example.com"),
    ("card plain", "charge 4111111111111111 declined", "4111111111111111"),
    ("card spaced", "card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
    ("card dashed", "card 5500-0000-0000-0004 declined", "5500-0000-0000-0004"),
    ("card amex", "amex 3782 822463 10005 declined", "3782 822463 10005"),
    ("us social security number", "ssn 123-45-6789 on file", "123-45-6789"),
    ("uk national insurance number", "NI number QQ123456C invalid", "QQ123456C"),
    ("canadian social insurance number", "SIN 046-454-286 rejected", "046-454-286"),
    ("iban", "refund to DE89370400440532013000 failed", "DE89370400440532013000"),
];

#[test]
fn every_secret_shape_of_the_corpus_is_masked() {
    assert!(CORPUS.len() >= 50, "the corpus has {} shapes", CORPUS.len());
    let leaks: Vec<String> = CORPUS
        .iter()
        .filter_map(|(family, text, secret)| {
            let out = redact(text);
            out.contains(secret)
                .then(|| format!("{family}: {text:?} → {out:?}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "{} of {} leak:\n{}",
        leaks.len(),
        CORPUS.len(),
        leaks.join("\n")
    );
}

#[test]
fn ordinary_text_is_left_alone() {
    for text in [
        "plain message 42",
        "GET https://shop.example/orders/17 failed with 503",
        "timeout after 1764671234567 ms",
        "order 12345 of 2026-03-02 failed: monkey=banana",
        "TypeError: Cannot read properties of undefined (reading 'token')",
        "retry 3/5 in 250 ms, key not found: user:42",
        "request 3f2b8c1e-1111-4a2b-9c3d-0123456789ab failed",
        "getUserOrdersByCustomerIdentifier is not a function",
        "D1_ERROR: UNIQUE constraint failed: orders.id",
        "ping @octocat about it",
    ] {
        assert_eq!(redact(text), text);
    }
}

#[test]
fn request_urls_keep_no_query_and_no_secret_path() {
    assert_eq!(
        redact_url("https://a.example/x/y?token=1#frag"),
        "https://a.example/x/y"
    );
    for (url, secret) in [
        (
            "https://shop.example/reset-password/tok7fK2pQ9xLm?x=1",
            "tok7fK2pQ9xLm",
        ),
        (
            "https://shop.example/invite/ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s01",
            "ghp_R4nd0m",
        ),
        ("https://bob:hunter2@shop.example/a", "hunter2"),
        (
            "https://shop.example/webhooks/Zx8Qp2Lm4Vb7Nc1Kd9Rt5Yw3Pz6Ab0Cd_eF-gH1jK",
            "Zx8Qp2Lm4Vb7Nc1Kd9",
        ),
        (
            "https://shop.example/u/jane.doe@example.com/orders",
            "jane.doe@example.com",
        ),
    ] {
        let out = redact_url(url);
        assert!(!out.contains(secret), "{url} → {out}");
    }
}

#[test]
fn redaction_reads_a_bounded_prefix_in_linear_time() {
    // Secret-dense text: every rule has work at every position.
    let unit = "password=hunter2 ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s01 4111 1111 1111 1111 a@b.example https://u:p@h.example/x?y=1 ";
    let huge = unit.repeat(1_000_000 / unit.len() + 1);
    let out = redact(&huge);
    assert!(out.len() <= MAX_SCAN, "{} bytes out of {}", out.len(), huge.len());
    let started = Instant::now();
    for _ in 0..5 {
        redact(&huge);
    }
    // Five 1 MB events: the bound keeps it to milliseconds even in a debug build.
    let spent = started.elapsed();
    assert!(spent.as_millis() < 1_000, "five 1 MB redactions took {spent:?}");
    // Linear: twice the (bounded) input costs about twice, not four times.
    let half = &huge[..MAX_SCAN / 2];
    let full = &huge[..MAX_SCAN];
    let time = |text: &str| {
        let started = Instant::now();
        for _ in 0..20 {
            redact(text);
        }
        started.elapsed().as_secs_f64()
    };
    let (t_half, t_full) = (time(half), time(full));
    assert!(t_full < t_half * 3.5, "{t_half} s for half, {t_full} s for full");
}
