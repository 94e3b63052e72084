/**
 * An OTLP/HTTP trace receiver for tests: a plain `node:http` server on an ephemeral port that accepts
 * `POST /v1/traces` in both encodings the gateway can send — `application/json` (OTLP/JSON) and
 * `application/x-protobuf`, decoded here with a few lines of protobuf wire-format reading (the fields of
 * `opentelemetry/proto/collector/trace/v1` a test looks at) — and keeps every span it received.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP `SpanKind`: 2 server, 3 client, 1 internal. */
  kind: number;
  /** Start and end, in nanoseconds since the epoch. */
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
  /** OTLP `StatusCode`: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  resource: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  /** The base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  url: string;
  spans: ReceivedSpan[];
  /** Every export as received: content type and raw body. */
  exports: { path: string; contentType: string; body: Buffer }[];
  close(): Promise<void>;
}

type Value = string | number | boolean;

// --- OTLP/JSON -------------------------------------------------------------------------------------------------

interface JsonKeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}

function jsonValue(v: JsonKeyValue['value']): Value {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  return v.doubleValue ?? '';
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, Value> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));
}

function fromJson(body: Buffer): ReceivedSpan[] {
  const doc = JSON.parse(body.toString('utf8')) as {
    resourceSpans?: {
      resource?: { attributes?: JsonKeyValue[] };
      scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; startTimeUnixNano?: string; endTimeUnixNano?: string; attributes?: JsonKeyValue[]; status?: { code?: number } }[] }[];
    }[];
  };
  return (doc.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? '',
        name: s.name,
        kind: s.kind,
        startNs: BigInt(s.startTimeUnixNano ?? 0),
        endNs: BigInt(s.endTimeUnixNano ?? 0),
        attributes: jsonAttributes(s.attributes),
        statusCode: s.status?.code ?? 0,
        resource: jsonAttributes(rs.resource?.attributes),
      })),
    ),
  );
}

// --- OTLP/protobuf: just enough of the wire format ------------------------------------------------------------

/** The fields of one message: field number → values (varints as bigint, length-delimited as bytes). */
function fields(buf: Buffer): Map<number, (bigint | Buffer)[]> {
  const out = new Map<number, (bigint | Buffer)[]>();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    let value: bigint | Buffer;
    switch (key & 7) {
      case 0:
        value = varint();
        break;
      case 1:
        value = buf.subarray(pos, pos + 8);
        pos += 8;
        break;
      case 2: {
        const len = Number(varint());
        value = buf.subarray(pos, pos + len);
        pos += len;
        break;
      }
      case 5:
        value = buf.subarray(pos, pos + 4);
        pos += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${key & 7}`);
    }
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

const bytesOf = (f: Map<number, (bigint | Buffer)[]>, n: number): Buffer[] => (f.get(n) ?? []).filter((v): v is Buffer => Buffer.isBuffer(v));
const numberOf = (f: Map<number, (bigint | Buffer)[]>, n: number): number => Number((f.get(n) ?? []).find((v) => typeof v === 'bigint') ?? 0n);

/** `KeyValue { string key = 1; AnyValue value = 2 }`, `AnyValue { string = 1; bool = 2; int64 = 3; double = 4 }`. */
function protoAttributes(list: Buffer[]): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const kv of list) {
    const f = fields(kv);
    const key = bytesOf(f, 1)[0]?.toString('utf8') ?? '';
    const any = fields(bytesOf(f, 2)[0] ?? Buffer.alloc(0));
    const str = bytesOf(any, 1)[0];
    if (str) out[key] = str.toString('utf8');
    else if (any.has(2)) out[key] = numberOf(any, 2) === 1;
    else if (any.has(3)) out[key] = numberOf(any, 3);
    else if (any.has(4)) out[key] = (any.get(4)![0] as Buffer).readDoubleLE(0);
  }
  return out;
}

/**
 * `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1 }`, `ResourceSpans { Resource resource = 1;
 * repeated ScopeSpans scope_spans = 2 }`, `ScopeSpans { repeated Span spans = 2 }`, `Span { trace_id = 1; span_id = 2;
 * parent_span_id = 4; name = 5; kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
 * attributes = 9; Status status = 15 }`, `Status { code = 3 }`.
 */
function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of bytesOf(fields(body), 1)) {
    const rsf = fields(rs);
    const resource = protoAttributes(bytesOf(fields(bytesOf(rsf, 1)[0] ?? Buffer.alloc(0)), 1));
    for (const ss of bytesOf(rsf, 2)) {
      for (const s of bytesOf(fields(ss), 2)) {
        const f = fields(s);
        const status = fields(bytesOf(f, 15)[0] ?? Buffer.alloc(0));
        spans.push({
          traceId: bytesOf(f, 1)[0]?.toString('hex') ?? '',
          spanId: bytesOf(f, 2)[0]?.toString('hex') ?? '',
          parentSpanId: bytesOf(f, 4)[0]?.toString('hex') ?? '',
          name: bytesOf(f, 5)[0]?.toString('utf8') ?? '',
          kind: numberOf(f, 6),
          startNs: bytesOf(f, 7)[0]?.readBigUInt64LE(0) ?? 0n,
          endNs: bytesOf(f, 8)[0]?.readBigUInt64LE(0) ?? 0n,
          attributes: protoAttributes(bytesOf(f, 9)),
          statusCode: numberOf(status, 3),
          resource,
        });
      }
    }
  }
  return spans;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: OtlpReceiver = {
    url: '',
    spans: [],
    exports: [],
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const contentType = String(req.headers['content-type'] ?? '');
      receiver.exports.push({ path: req.url ?? '', contentType, body });
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      if (contentType.startsWith('application/json')) {
        receiver.spans.push(...fromJson(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else if (contentType.startsWith('application/x-protobuf')) {
        receiver.spans.push(...fromProtobuf(body));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } else {
        res.writeHead(415).end();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
