package io.machinery.backend.mongodb;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * mongo-java-server (an emulator, not a real mongod) in this JVM on a free loopback port, for the
 * unit tests; one per test JVM, stopped when the JVM ends. It never expires TTL documents and has
 * no transactions, which this backend does not use.
 */
final class InProcessMongo {
  private static MongoServer server;
  private static String uri;

  private InProcessMongo() {}

  static synchronized String uri() {
    if (server == null) {
      server = new MongoServer(new MemoryBackend());
      uri = server.bindAndGetConnectionString();
    }
    return uri;
  }
}
