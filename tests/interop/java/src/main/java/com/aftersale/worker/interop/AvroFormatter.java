/*
 * A MessageFormatter for Kafka's console consumer: decodes the
 * aftersale-worker's Confluent-framed Avro values (docs/wire-format.md) with
 * Avro's GenericDatumReader and prints one JSON object per record, with
 * every field of the record, so that Kafka's and Avro's own Java libraries
 * can be checked against what the worker writes.
 *
 *   kafka.sh tool console-consumer ... \
 *     --formatter com.aftersale.worker.interop.AvroFormatter \
 *     --property schemas.dir=schemas \
 *     --property schema.ids=10:Decision,11:RefundRecord
 *
 * Properties:
 *   schemas.dir  the folder of the .avsc files (file stem = record name)
 *   schema.ids   which writer schema each id names: id:RecordName,...
 *                (the built-in table of docs/wire-format.md, or a registry's)
 *
 * Each line: {"topic", "partition", "offset", "key" (UTF-8, or null),
 * "schema_id", "record" (the record's name), "value" (the record: field
 * names as in the .avsc, longs and ints as numbers, enums as their symbols,
 * a union as its value, arrays as arrays)}.
 *
 * A value that is null, shorter than the 5-byte header, not magic byte 0,
 * of an id not in schema.ids, or with bytes left after its record throws,
 * which ends the console consumer with exit status 1: a reader must never
 * skip what it cannot read.
 */
package com.aftersale.worker.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.MessageFormatter;
import org.apache.kafka.common.config.ConfigException;

public class AvroFormatter implements MessageFormatter {
    private static final int HEADER = 5;
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final ObjectMapper mapper = new ObjectMapper();
    private final Map<Integer, GenericDatumReader<GenericRecord>> readers = new HashMap<>();
    private BinaryDecoder decoder; // reused from record to record

    @Override
    public void configure(Map<String, ?> configs) {
        String dir = property(configs, "schemas.dir");
        for (String entry : property(configs, "schema.ids").split(",")) {
            String[] idName = entry.trim().split(":", 2);
            int id;
            try {
                id = Integer.parseInt(idName[0]);
            } catch (NumberFormatException e) {
                throw new ConfigException("schema.ids", entry, "expected id:RecordName");
            }
            if (idName.length != 2 || readers.containsKey(id)) {
                throw new ConfigException("schema.ids", entry,
                                          "expected id:RecordName, each id once");
            }
            File file = new File(dir, idName[1] + ".avsc");
            Schema schema;
            try {
                // A parser per file: each .avsc stands alone and defines its
                // enums again, which one shared parser would refuse.
                schema = new Schema.Parser().parse(file);
            } catch (IOException e) {
                throw new ConfigException("schemas.dir", dir, file + ": " + e.getMessage());
            }
            if (schema.getType() != Schema.Type.RECORD || !schema.getName().equals(idName[1])) {
                throw new ConfigException("schema.ids", entry, file + " is not that record");
            }
            readers.put(id, new GenericDatumReader<>(schema));
        }
    }

    private static String property(Map<String, ?> configs, String name) {
        Object v = configs.get(name);
        if (v == null || v.toString().isEmpty()) {
            throw new ConfigException(name, v, "required (--property " + name + "=...)");
        }
        return v.toString();
    }

    @Override
    public void writeTo(ConsumerRecord<byte[], byte[]> record, PrintStream output) {
        String where = record.topic() + "/" + record.partition() + "@" + record.offset();
        byte[] v = record.value();
        if (v == null || v.length < HEADER) {
            throw new IllegalStateException(where + ": no room for the 5-byte header");
        }
        if (v[0] != 0) {
            throw new IllegalStateException(where + ": magic byte " + v[0] + ", expected 0");
        }
        int id = ByteBuffer.wrap(v, 1, 4).getInt(); // big-endian
        GenericDatumReader<GenericRecord> reader = readers.get(id);
        if (reader == null) {
            throw new IllegalStateException(where + ": schema id " + id + " is not in schema.ids");
        }
        GenericRecord value;
        String name = reader.getSchema().getName();
        try {
            decoder = DecoderFactory.get().binaryDecoder(v, HEADER, v.length - HEADER, decoder);
            value = reader.read(null, decoder);
        } catch (IOException | RuntimeException e) {
            // Avro's reader throws EOFException, AvroRuntimeException or an
            // index out of bounds on bytes that are not this record.
            throw new IllegalStateException(where + ": not a " + name + " (schema id " + id
                                                + "): " + e, e);
        }
        try {
            if (!decoder.isEnd()) {
                throw new IllegalStateException(where + ": bytes left after the " + name);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ObjectNode line = JSON.objectNode();
        line.put("topic", record.topic());
        line.put("partition", record.partition());
        line.put("offset", record.offset());
        line.put("key", record.key() == null ? null
                                             : new String(record.key(), StandardCharsets.UTF_8));
        line.put("schema_id", id);
        line.put("record", value.getSchema().getName());
        line.set("value", toJson(value, value.getSchema()));
        try {
            output.println(mapper.writeValueAsString(line));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A decoded Avro datum as JSON; only the types the .avsc files use. */
    private static JsonNode toJson(Object datum, Schema schema) {
        switch (schema.getType()) {
        case RECORD: {
            GenericRecord r = (GenericRecord) datum;
            ObjectNode o = JSON.objectNode();
            for (Schema.Field f : schema.getFields()) {
                o.set(f.name(), toJson(r.get(f.pos()), f.schema()));
            }
            return o;
        }
        case UNION:
            return toJson(datum,
                          schema.getTypes().get(GenericData.get().resolveUnion(schema, datum)));
        case ARRAY: {
            ArrayNode a = JSON.arrayNode();
            for (Object item : (Iterable<?>) datum) {
                a.add(toJson(item, schema.getElementType()));
            }
            return a;
        }
        case ENUM:
        case STRING:
            return JSON.textNode(datum.toString());
        case LONG:
            return JSON.numberNode((Long) datum);
        case INT:
            return JSON.numberNode((Integer) datum);
        case BOOLEAN:
            return JSON.booleanNode((Boolean) datum);
        case NULL:
            return JSON.nullNode();
        default:
            throw new IllegalStateException("Avro type " + schema.getType() + " is not supported");
        }
    }
}
