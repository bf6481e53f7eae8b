package io.machinery.backend.memcache;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * memcached's text protocol over a plain socket, independent of the client under test: what is
 * stored, with which flags and how long it has left to live (meta get, memcached 1.6).
 */
final class RawMemcached implements AutoCloseable {
  record Item(int flags, long ttlSeconds, byte[] value) {
    String text() {
      return new String(value, StandardCharsets.UTF_8);
    }
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  RawMemcached(InetSocketAddress address) throws IOException {
    socket = new Socket(address.getHostString(), address.getPort());
    socket.setSoTimeout(5_000);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  /**
   * {@code mg <key> f t v}: the item's flags, remaining TTL (-1: none) and value; null when absent.
   */
  @Nullable Item get(String key) throws IOException {
    send("mg " + key + " f t v\r\n");
    String head = line();
    if (head.equals("EN")) {
      return null;
    }
    String[] parts = head.split(" ");
    if (!parts[0].equals("VA")) {
      throw new IOException("unexpected reply to mg: " + head);
    }
    int size = Integer.parseInt(parts[1]);
    int flags = 0;
    long ttl = -1;
    for (int i = 2; i < parts.length; i++) {
      if (parts[i].startsWith("f")) {
        flags = Integer.parseInt(parts[i].substring(1));
      } else if (parts[i].startsWith("t")) {
        ttl = Long.parseLong(parts[i].substring(1));
      }
    }
    byte[] value = in.readNBytes(size);
    line(); // the CRLF after the data
    return new Item(flags, ttl, value);
  }

  /**
   * How many seconds this host's clock is ahead of memcached's ({@code stats}' {@code time}):
   * memcached keeps time from its start on a monotonic clock, so a host clock stepped since then (a
   * virtual machine's time sync) shifts by that much what remains of an absolute expiry.
   */
  long hostAheadSeconds() throws IOException {
    send("stats\r\n");
    long memcachedTime = -1;
    for (String line = line(); !line.equals("END"); line = line()) {
      if (line.startsWith("STAT time ")) {
        memcachedTime = Long.parseLong(line.substring("STAT time ".length()));
      }
    }
    if (memcachedTime < 0) {
      throw new IOException("memcached's stats carry no time");
    }
    return java.time.Instant.now().getEpochSecond() - memcachedTime;
  }

  /** {@code set <key> 0 <exptime> <n>}, as gomemcache writes an item. */
  void set(String key, long exptime, byte[] value) throws IOException {
    send("set " + key + " 0 " + exptime + " " + value.length + "\r\n");
    out.write(value);
    send("\r\n");
    String reply = line();
    if (!reply.equals("STORED")) {
      throw new IOException("set " + key + ": " + reply);
    }
  }

  private void send(String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  private String line() throws IOException {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    int previous = -1;
    for (int b = in.read(); b != -1; b = in.read()) {
      if (previous == '\r' && b == '\n') {
        byte[] bytes = buffer.toByteArray();
        return new String(bytes, 0, bytes.length - 1, StandardCharsets.US_ASCII);
      }
      buffer.write(b);
      previous = b;
    }
    throw new IOException("memcached closed the connection");
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
