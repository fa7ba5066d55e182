package lab;

import java.util.List;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * A MongoDB-wire-compatible server for machines without MongoDB or Docker.
 *
 * Usage: MongoWireServer HOST PORT DATA_FILE
 *
 * Data lives in one H2 MVStore file, so it survives a restart. DATA_FILE "memory" keeps
 * everything in the JVM heap instead (nothing survives; used by benchmarks).
 */
public final class MongoWireServer {
    private MongoWireServer() {}

    /**
     * The server answers as MongoDB 4.4 (wire version 9). Current PyMongo refuses servers
     * older than that, and the library's own newest constant (MONGO_5_0) reports wire
     * version 8. The lab uses only features this server implements either way.
     */
    static final MongoVersion REPORTED_VERSION = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: MongoWireServer HOST PORT DATA_FILE");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        MongoBackend backend = "memory".equals(args[2]) ? new MemoryBackend() : new H2Backend(args[2]);
        backend.version(REPORTED_VERSION);
        MongoServer server = new MongoServer(backend);
        // Close the store on SIGTERM so the last writes are flushed to disk.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdown, "mongo-shutdown"));
        server.bind(host, port);
        System.out.println("mongo-wire-server listening on " + host + ":" + port + " data=" + args[2]);
    }
}
