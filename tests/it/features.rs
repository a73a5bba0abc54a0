//! The optional features: `json` (send_json, into_json) and `gzip` (Accept-Encoding,
//! streaming inflate under the body limit). Run with `--features json,gzip`.

#[cfg(feature = "json")]
mod json {
    use serde_json::{json, Value};
    use tinyhttps::{Client, Error};

    use crate::support::{client_trusting, pki_and_https, Reply, Server};

    #[test]
    fn send_json_and_into_json_round_trip() {
        let (pki, server) =
            pki_and_https(|r| Reply::status(200, &[("content-type", "application/json")], &r.body));
        let client = client_trusting(&pki);
        let sent = json!({ "sensor": "t1", "celsius": 21.5, "tags": ["a", "b"] });
        let resp = client
            .post(&server.url("/v1/readings"))
            .send_json(&sent)
            .unwrap();
        let back: Value = resp.into_json().unwrap();
        assert_eq!(back, sent);
        let seen = &server.requests()[0];
        assert_eq!(seen.header("content-type"), Some("application/json"));
        assert_eq!(
            seen.header("content-length"),
            Some(&*seen.body.len().to_string())
        );
        assert_eq!(serde_json::from_slice::<Value>(&seen.body).unwrap(), sent);
        // A typed target, with serde's own impls.
        let resp = client
            .post(&server.url("/"))
            .send_json(&[1u32, 2, 3])
            .unwrap();
        assert_eq!(resp.into_json::<Vec<u32>>().unwrap(), [1, 2, 3]);
    }

    #[test]
    fn send_json_keeps_the_callers_content_type() {
        let server = Server::http(|_| Reply::ok(b""));
        let client = Client::new();
        client
            .put(&server.url("/"))
            .header("Content-Type", "application/merge-patch+json")
            .send_json(&json!({ "a": null }))
            .unwrap();
        let seen = &server.requests()[0];
        assert_eq!(
            seen.header_all("content-type"),
            ["application/merge-patch+json"]
        );
        assert_eq!(seen.body_text(), r#"{"a":null}"#);
    }

    #[test]
    fn into_json_beyond_the_body_limit_is_body_too_large() {
        let big = format!("[{}0]", "0,".repeat(600)); // 1203 bytes of valid JSON
        let server = Server::http(move |_| Reply::ok(big.as_bytes()));
        let client = Client::builder().body_limit(1000).build().unwrap();
        let err = client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_json::<Value>()
            .unwrap_err();
        assert!(matches!(err, Error::BodyTooLarge { limit: 1000 }), "{err}");
    }

    #[test]
    fn bad_json_is_an_error_naming_the_host_and_the_place() {
        let server = Server::http(|_| Reply::ok(br#"{"interval": 30,"#));
        let client = Client::new();
        let err = client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_json::<Value>()
            .unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{err:?}");
        let msg = err.to_string();
        let host = format!("127.0.0.1:{}", server.port());
        assert!(msg.contains(&host), "{msg}");
        assert!(msg.contains("not the JSON expected"), "{msg}");
        assert!(msg.contains("line 1 column"), "{msg}");
        assert!(std::error::Error::source(&err).is_some());
        // JSON of the wrong type is the same error.
        let err = client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_json::<Vec<u32>>()
            .unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{err:?}");
    }

    #[test]
    fn a_value_that_cannot_be_json_is_an_invalid_request_and_nothing_is_sent() {
        let server = Server::http(|_| Reply::ok(b""));
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1); // keys must be strings in JSON
        let err = Client::new()
            .post(&server.url("/"))
            .send_json(&map)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
        assert!(err.to_string().contains("JSON body"), "{err}");
        assert!(server.requests().is_empty());
    }
}

#[cfg(feature = "gzip")]
mod gzip {
    use std::io::{self, Read};

    use tinyhttps::{Client, Error};

    use crate::support::{client_trusting, pki_and_https, Reply, Server, Step};

    /// CRC-32 of gzip's trailer (a second implementation: the library's own is
    /// not public).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// `data` as one gzip member: a minimal header, deflate, CRC-32 and length.
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        out.extend(miniz_oxide::deflate::compress_to_vec(data, 6));
        out.extend(crc32(data).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out
    }

    fn text() -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..2000 {
            text.extend(format!("line {i}: the quick brown fox\n").bytes());
        }
        text
    }

    fn gzip_reply(body: &[u8]) -> Reply {
        Reply::status(200, &[("content-encoding", "gzip")], body)
    }

    #[test]
    fn gzip_body_with_content_length_is_decoded_and_accept_encoding_sent() {
        let plain = text();
        let encoded = gzip(&plain);
        assert!(encoded.len() < plain.len() / 4);
        let server = Server::http(move |_| gzip_reply(&encoded));
        let client = Client::new();
        let resp = client.get(&server.url("/")).call().unwrap();
        // The headers describe the decoded body: no encoding, no wire length.
        assert_eq!(resp.header("content-encoding"), None);
        assert_eq!(resp.header("content-length"), None);
        assert_eq!(resp.into_vec().unwrap(), plain);
        assert_eq!(server.requests()[0].header_all("accept-encoding"), ["gzip"]);
    }

    #[test]
    fn gzip_chunked_body_over_tls_is_decoded_across_chunk_boundaries() {
        let plain = text();
        let encoded = gzip(&plain);
        let (pki, server) = pki_and_https(move |_| {
            // Cuts inside the header, the deflate data and the trailer.
            let cuts = [3, 700, encoded.len() - 5];
            let pieces = [
                &encoded[..cuts[0]],
                &encoded[cuts[0]..cuts[1]],
                &encoded[cuts[1]..cuts[2]],
                &encoded[cuts[2]..],
            ];
            let mut reply = Reply::chunked(200, &pieces, &[]);
            // Reply::chunked has no header parameter: add Content-Encoding.
            let Step::Send(bytes) = &mut reply.steps[0] else {
                unreachable!()
            };
            let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            bytes.splice(at + 2..at + 2, *b"content-encoding: gzip\r\n");
            reply
        });
        let client = client_trusting(&pki);
        let mut body = client.get(&server.url("/")).call().unwrap().into_reader();
        // Small reads: the decoder keeps what does not fit for the next read.
        let mut out = Vec::new();
        let mut buf = [0u8; 100];
        loop {
            match body.read(&mut buf).unwrap() {
                0 => break,
                n => out.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(out, plain);
    }

    #[test]
    fn callers_accept_encoding_is_sent_alone_and_the_body_left_encoded() {
        let encoded = gzip(b"hello");
        let sent = encoded.clone();
        let server = Server::http(move |_| gzip_reply(&sent));
        let client = Client::new();
        let resp = client
            .get(&server.url("/"))
            .header("Accept-Encoding", "gzip, br")
            .call()
            .unwrap();
        assert_eq!(resp.header("content-encoding"), Some("gzip"));
        assert_eq!(resp.into_vec().unwrap(), encoded);
        assert_eq!(
            server.requests()[0].header_all("accept-encoding"),
            ["gzip, br"]
        );
        // A Range request asks for the bytes as stored.
        client
            .get(&server.url("/"))
            .header("Range", "bytes=0-")
            .call()
            .unwrap()
            .into_vec()
            .unwrap();
        assert_eq!(server.requests()[1].header("accept-encoding"), None);
    }

    #[test]
    fn decompression_bomb_is_refused_at_the_body_limit() {
        let zeros = vec![0u8; 10 * 1024 * 1024];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < 64 * 1024, "bomb is {} bytes", bomb.len());
        let server = Server::http(move |_| gzip_reply(&bomb));
        let limit = 1024 * 1024;
        let client = Client::builder().body_limit(limit).build().unwrap();
        let err = client
            .get(&server.url("/"))
            .call()
            .unwrap()
            .into_vec()
            .unwrap_err();
        assert!(
            matches!(err, Error::BodyTooLarge { limit: 1048576 }),
            "{err}"
        );
        // A streaming reader is held to the same limit.
        let mut body = client.get(&server.url("/")).call().unwrap().into_reader();
        let mut decoded = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let err = loop {
            match body.read(&mut buf) {
                Ok(0) => panic!("the bomb was decoded whole: {decoded} bytes"),
                Ok(n) => decoded += n as u64,
                Err(e) => break e,
            }
        };
        assert!(decoded <= limit, "{decoded} bytes decoded");
        let err = Error::from(err);
        assert!(matches!(err, Error::BodyTooLarge { .. }), "{err}");
        // An explicit larger limit lets the whole body through.
        let resp = client.get(&server.url("/")).call().unwrap();
        assert_eq!(resp.into_vec_limited(zeros.len() as u64).unwrap(), zeros);
    }

    #[test]
    fn corrupt_or_truncated_gzip_is_an_error_never_a_short_body() {
        let plain = text();
        let good = gzip(&plain);
        let mut bad_data = good.clone();
        bad_data[12] ^= 0xff; // inside the deflate data
        let mut bad_crc = good.clone();
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 1;
        let truncated = good[..good.len() / 2].to_vec(); // framing complete, gzip not
        let no_trailer = good[..good.len() - 8].to_vec();
        let not_gzip = b"plain text sent as gzip".to_vec();
        let cases = [bad_data, bad_crc, truncated, no_trailer, not_gzip];
        let replies = cases.clone();
        let server = Server::http(move |r| {
            let i: usize = r.target[1..].parse().unwrap();
            gzip_reply(&replies[i])
        });
        let client = Client::new();
        for i in 0..cases.len() {
            let resp = client.get(&server.url(&format!("/{i}"))).call().unwrap();
            let err = resp.into_vec().unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "case {i}: {err:?}");
            let msg = err.to_string();
            assert!(msg.contains("gzip"), "case {i}: {msg}");
            assert!(msg.contains(&server.port().to_string()), "case {i}: {msg}");
        }
        // A connection is reused only after a body whose HTTP framing ended
        // cleanly: cases 2 and 3 (the gzip stream is short, not the body), each
        // reused by the next request. Cases 0, 1 and 4 fail mid-body: closed.
        assert_eq!(client.stats().pool_reuses, 2);
        // Reading on after the error gives an error again, not raw bytes.
        let mut body = client.get(&server.url("/0")).call().unwrap().into_reader();
        let mut sink = Vec::new();
        assert!(body.read_to_end(&mut sink).is_err());
        assert!(body.read(&mut [0u8; 16]).is_err());
    }

    #[test]
    fn connection_is_pooled_after_a_full_gzip_body() {
        let encoded = gzip(&text());
        let server = Server::http(move |_| gzip_reply(&encoded));
        let client = Client::new();
        for _ in 0..3 {
            let mut body = client.get(&server.url("/")).call().unwrap().into_reader();
            io::copy(&mut body, &mut io::sink()).unwrap();
        }
        let stats = client.stats();
        assert_eq!((stats.connections_opened, stats.pool_reuses), (1, 2));
        assert_eq!(server.connections(), 1);
    }

    #[test]
    fn members_one_after_another_and_empty_bodies_decode() {
        let mut two = gzip(b"first, ");
        two.extend(gzip(b"second"));
        let server = Server::http(move |r| match r.target.as_str() {
            "/two" => gzip_reply(&two),
            _ => gzip_reply(b""),
        });
        let client = Client::new();
        let resp = client.get(&server.url("/two")).call().unwrap();
        assert_eq!(resp.into_string().unwrap(), "first, second");
        let resp = client.get(&server.url("/empty")).call().unwrap();
        assert_eq!(resp.into_string().unwrap(), "");
        assert_eq!(client.stats().pool_reuses, 1);
    }

    #[test]
    fn a_download_asks_for_the_file_as_stored() {
        let stored = gzip(b"firmware image");
        let sent = stored.clone();
        let server = Server::http(move |_| Reply::ok(&sent));
        let dir = crate::support::temp_dir("features-download");
        let dest = dir.join("fw.bin");
        Client::new()
            .download(&server.url("/fw.bin"))
            .to_file(&dest)
            .run()
            .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), stored);
        assert_eq!(
            server.requests()[0].header_all("accept-encoding"),
            ["identity"]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
