// What does the SDK's own OTLP/protobuf encoder cost, beside OpenTelemetry's serializer it replaced
// (`@opentelemetry/otlp-transformer`, which needs @opentelemetry/api 1.10 to load: otlp-protobuf.ts)?
// The same finished spans, realistic agent traces (a run span and 8 LLM-call spans with GenAI
// attributes), encoded by both in interleaved rounds; the median round is reported, in ns a span.
// Both give the same bytes (sdk/src/otlp-protobuf.test.ts); this checks that once more.
//
// Run: npm run build -w @daa/sdk && node sdk/bench/otlp-encoding.mjs   (part of npm run bench:sdk)
import { context, trace } from '@opentelemetry/api'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import { encodeTraceRequest } from '../dist/otlp-protobuf.js'

const RUNS = 60
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const ENCODINGS_PER_ROUND = 500

const exporter = new InMemorySpanExporter()
const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'support', 'telemetry.sdk.language': 'nodejs' }),
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
})
const tracer = provider.getTracer('@daa/sdk', '0.1.0')
for (let run = 0; run < RUNS; run++) {
  const agent = tracer.startSpan('invoke_agent support-bot', {
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'support-bot',
      'user.id': 'u-42',
    },
  })
  const inRun = trace.setSpan(context.active(), agent)
  for (let call = 0; call < 8; call++) {
    tracer
      .startSpan(
        'chat gpt-5',
        {
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.request.model': 'gpt-5',
            'gen_ai.usage.input_tokens': 1200,
            'gen_ai.usage.output_tokens': 300,
            'daa.run.id': agent.spanContext().spanId,
            'daa.cost.usd': 0.0123,
          },
        },
        inRun,
      )
      .end()
  }
  agent.setAttribute('daa.outcome', 'delivered')
  agent.end()
}
const spans = exporter.getFinishedSpans()
if (
  !Buffer.from(encodeTraceRequest(spans)).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)))
) {
  throw new Error('the two encoders disagree')
}

const encoders = {
  daa: () => encodeTraceRequest(spans),
  opentelemetry: () => ProtobufTraceSerializer.serializeRequest(spans),
}
const samples = { daa: [], opentelemetry: [] }
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const [name, encode] of Object.entries(encoders)) {
    const started = process.hrtime.bigint()
    for (let index = 0; index < ENCODINGS_PER_ROUND; index++) encode()
    const nanosPerSpan = Number(process.hrtime.bigint() - started) / ENCODINGS_PER_ROUND / spans.length
    // The first round warms both up.
    if (round > 0) samples[name].push(nanosPerSpan)
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const daa = median(samples.daa)
const otel = median(samples.opentelemetry)
console.log(
  `\nOTLP/protobuf encoding of ${spans.length} spans (${RUNS} runs), median of ${ROUNDS} interleaved rounds`,
)
console.log(`  @daa/sdk's encoder                 ${daa.toFixed(0)} ns a span`)
console.log(`  OpenTelemetry's serializer         ${otel.toFixed(0)} ns a span`)
console.log(`  @daa/sdk / OpenTelemetry           ${(daa / otel).toFixed(2)}×  (same bytes)`)
