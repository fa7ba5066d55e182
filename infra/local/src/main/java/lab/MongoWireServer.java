package lab;

import java.util.List;
import java.util.Locale;
import java.util.Set;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.message.MongoMessage;

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

    /**
     * The H2 backend, made durable: every write command is committed to the data file before
     * it is acknowledged. The stock backend commits about once a second, so a crashed server
     * lost writes it had already acknowledged, and a client that committed Kafka offsets after
     * that acknowledgement lost those events for good. A committed MVStore chunk is in the
     * file (the operating system's cache at least): a killed server process keeps it.
     */
    static final class DurableH2Backend extends H2Backend {
        private static final Set<String> WRITES = Set.of("insert", "update", "delete", "findandmodify",
                "create", "createindexes", "drop", "dropdatabase", "dropindexes", "renamecollection");

        DurableH2Backend(String fileName) {
            super(fileName);
        }

        @Override
        public Document handleMessage(MongoMessage message) {
            Document response = super.handleMessage(message);
            String command = message.getDocument().keySet().iterator().next();  // the command is the first key
            if (WRITES.contains(command.toLowerCase(Locale.ROOT))) {
                commit();
            }
            return response;
        }
    }

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: MongoWireServer HOST PORT DATA_FILE");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        MongoBackend backend = "memory".equals(args[2]) ? new MemoryBackend() : new DurableH2Backend(args[2]);
        backend.version(REPORTED_VERSION);
        MongoServer server = new MongoServer(backend);
        // Close the store on SIGTERM so the last writes are flushed to disk.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdown, "mongo-shutdown"));
        server.bind(host, port);
        System.out.println("mongo-wire-server listening on " + host + ":" + port + " data=" + args[2]);
    }
}
