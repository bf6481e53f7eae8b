package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sentinel, TLS and unix-socket connections, each against a redis-server this test starts for
 * itself.
 */
class RedisTopologiesIT {
  @TempDir Path directory;

  private static void roundTrip(RedisSession session) {
    String key = "topology_it_" + UUID.randomUUID();
    session.await(session.commands().set(key, "v".getBytes(StandardCharsets.UTF_8)));
    assertThat(session.await(session.commands().get(key)))
        .isEqualTo("v".getBytes(StandardCharsets.UTF_8));
    session.await(session.commands().del(key));
  }

  @Test
  void aSentinelMasterNameMakesTheHostsSentinels() throws Exception {
    RedisAddress master = RedisAddress.parse(TestEndpoints.redisUrl());
    int port = OwnRedisServer.freePort();
    Files.writeString(
        directory.resolve("sentinel.conf"),
        "port "
            + port
            + "\nbind 127.0.0.1\n"
            + "sentinel monitor it-master "
            + master.hosts().get(0).host()
            + " "
            + master.hosts().get(0).port()
            + " 1\n");
    try (OwnRedisServer sentinel =
        OwnRedisServer.start(directory, port, List.of("sentinel.conf", "--sentinel"))) {
      String url = "redis://127.0.0.1:" + sentinel.port();
      Config config =
          Config.builder()
              .broker(url)
              .redis(RedisConfig.DEFAULT.withMasterName("it-master"))
              .build();
      try (RedisSession session = RedisSession.open(url, config)) {
        assertThat(session.isCluster()).isFalse();
        roundTrip(session);
        // the data went to the master the Sentinel names, not to the Sentinel
        Object masterPort = session.await(session.commands().configGet("port")).get("port");
        String text =
            masterPort instanceof byte[] b
                ? new String(b, StandardCharsets.UTF_8)
                : String.valueOf(masterPort);
        assertThat(text).isEqualTo(Integer.toString(master.hosts().get(0).port()));
      }
    }
  }

  @Test
  void aRedissUrlSpeaksTls() throws Exception {
    io.machinery.testkit.TestEndpoints.requireTool(
        Files.isExecutable(Path.of("/usr/bin/openssl")), "no openssl to make test certificates");
    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=machinery-it-ca");
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost");
    Files.writeString(directory.resolve("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "ext.cnf");
    java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    try (var in = Files.newInputStream(directory.resolve("ca.crt"))) {
      trust.setCertificateEntry(
          "ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    Path store = directory.resolve("trust.p12");
    try (var out = Files.newOutputStream(store)) {
      trust.store(out, "changeit".toCharArray());
    }
    int port = OwnRedisServer.freePort();
    String oldStore = System.getProperty("javax.net.ssl.trustStore");
    String oldPassword = System.getProperty("javax.net.ssl.trustStorePassword");
    System.setProperty("javax.net.ssl.trustStore", store.toString());
    System.setProperty("javax.net.ssl.trustStorePassword", "changeit");
    try (OwnRedisServer server =
        OwnRedisServer.start(
            directory,
            port,
            List.of(
                "--port",
                "0",
                "--tls-port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                "server.crt",
                "--tls-key-file",
                "server.key",
                "--tls-ca-cert-file",
                "ca.crt",
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no"))) {
      String url = "rediss://127.0.0.1:" + server.port();
      try (RedisSession session = RedisSession.open(url, Config.builder().broker(url).build())) {
        roundTrip(session);
      }
    } finally {
      restore("javax.net.ssl.trustStore", oldStore);
      restore("javax.net.ssl.trustStorePassword", oldPassword);
    }
  }

  @Test
  void aRedisSocketUrlUsesAUnixSocket() throws Exception {
    io.machinery.testkit.TestEndpoints.requireTool(
        io.lettuce.core.resource.Transports.NativeTransports.isDomainSocketSupported(),
        "Netty's native transport is not on the class path, so unix sockets cannot be used");
    Path socket = directory.resolve("redis.sock");
    int port = OwnRedisServer.freePort();
    try (OwnRedisServer server =
        OwnRedisServer.start(
            directory,
            port,
            OwnRedisServer.plainArgs(
                port, "--unixsocket", socket.toString(), "--appendonly", "no"))) {
      String url = "redis+socket://" + server.directory().resolve("redis.sock");
      try (RedisSession session = RedisSession.open(url, Config.builder().broker(url).build())) {
        roundTrip(session);
      }
    }
  }

  private void run(String... command) throws Exception {
    Process p =
        new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(String.join(" ", command) + ": " + output).isZero();
  }

  private static void restore(String property, String value) {
    if (value == null) {
      System.clearProperty(property);
    } else {
      System.setProperty(property, value);
    }
  }
}
