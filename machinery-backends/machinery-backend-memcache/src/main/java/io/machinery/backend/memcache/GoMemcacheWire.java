package io.machinery.backend.memcache;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import net.spy.memcached.CachedData;
import net.spy.memcached.HashAlgorithm;
import net.spy.memcached.transcoders.Transcoder;

/**
 * What Go's memcache client (bradfitz/gomemcache, used by Go Machinery) does on the wire, as
 * spymemcached plug-ins: its server choice, its flags, and Machinery's server list.
 */
final class GoMemcacheWire {
  private GoMemcacheWire() {}

  /**
   * gomemcache's {@code ServerList.PickServer}: {@code crc32.ChecksumIEEE(key) % len(servers)} (one
   * server: always it). spymemcached's array-mod locator takes {@code hash(key) % nodes}, so the
   * hash is the unsigned IEEE CRC-32 of the key's bytes; then Java and Go put every key on the same
   * server of the same list.
   */
  static final HashAlgorithm GO_CRC32 =
      key -> {
        CRC32 crc = new CRC32();
        crc.update(key.getBytes(StandardCharsets.UTF_8));
        return crc.getValue();
      };

  /**
   * Values as bytes with flags 0, as gomemcache stores them; reading returns the bytes whatever the
   * flags. Never Java serialization (spymemcached's default transcoder deserializes objects named
   * by the stored flags). Its size check is spymemcached's 20 MiB; memcached's item limit (1 MiB by
   * default) is {@link MemcacheBackend}'s to check, before a value is sent.
   */
  static final Transcoder<byte[]> RAW =
      new Transcoder<>() {
        @Override
        public boolean asyncDecode(CachedData d) {
          return false;
        }

        @Override
        public CachedData encode(byte[] o) {
          if (o.length > CachedData.MAX_SIZE) {
            throw new IllegalArgumentException(
                "a value of "
                    + o.length
                    + " bytes is larger than spymemcached's limit ("
                    + CachedData.MAX_SIZE
                    + " bytes)");
          }
          return new CachedData(0, o, CachedData.MAX_SIZE);
        }

        @Override
        public byte[] decode(CachedData d) {
          return d.getData();
        }

        @Override
        public int getMaxSize() {
          return CachedData.MAX_SIZE;
        }
      };

  /**
   * The servers of a result backend URL, in order: Go Machinery's {@code
   * memcache://host:port,host:port} (v1's factory splits what follows the scheme on commas; v2
   * takes the list as given); a bare {@code host:port} list works too. The port defaults to 11211.
   *
   * @throws IllegalArgumentException when the list is empty or a server is not {@code host[:port]}
   */
  static List<InetSocketAddress> servers(String url) {
    String list = url.startsWith("memcache://") ? url.substring("memcache://".length()) : url;
    List<InetSocketAddress> out = new ArrayList<>();
    for (String part : list.split(",", -1)) {
      String server = part.strip();
      if (server.endsWith("/")) {
        server = server.substring(0, server.length() - 1);
      }
      if (server.isEmpty() || server.contains("/") || server.contains("@")) {
        throw new IllegalArgumentException(
            "not a memcache server list: '"
                + url
                + "' (expected memcache://host:port[,host:port...])");
      }
      int colon = server.lastIndexOf(':');
      String host = colon < 0 ? server : server.substring(0, colon);
      int port = 11211;
      if (colon >= 0) {
        try {
          port = Integer.parseInt(server.substring(colon + 1));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "not a port in memcache server '" + server + "' of '" + url + "'");
        }
      }
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      if (host.isEmpty() || port < 1 || port > 65535) {
        throw new IllegalArgumentException(
            "not a memcache server: '" + server + "' of '" + url + "'");
      }
      out.add(new InetSocketAddress(host, port));
    }
    return out;
  }
}
