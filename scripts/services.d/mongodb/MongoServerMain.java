import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The test MongoDB: mongo-java-server (an emulator, not a real mongod: TTL indexes are kept but never expire
 * documents; no transactions or change streams) with its in-memory backend, on HOST:PORT until SIGTERM.
 * Started by scripts/services.d/mongodb.sh as a single-file program: java -cp 'lib/*' MongoServerMain.java
 * HOST PORT PIDFILE. It writes its PID once it listens, so a PID file always names a live, bound server.
 */
public class MongoServerMain {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: MongoServerMain HOST PORT PIDFILE");
      System.exit(2);
    }
    MongoServer server = new MongoServer(new MemoryBackend());
    server.bind(args[0], Integer.parseInt(args[1]));
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongodb-stop"));
    Files.writeString(Path.of(args[2]), ProcessHandle.current().pid() + "\n");
    System.err.println("mongo-java-server listening on " + server.getLocalAddress());
    Thread.currentThread().join();
  }
}
