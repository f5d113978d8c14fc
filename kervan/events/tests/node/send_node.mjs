// Sends Segment calls to a running Kervan with the real @segment/analytics-node, as a shop's server would.
// Driven by kervan/events/tests/test_segment_clients.py: KERVAN_HOST, WRITE_KEY and RUN (a prefix for messageIds, so
// running it twice sends the same messages again) come from the environment.
import { Analytics } from '@segment/analytics-node'

const analytics = new Analytics({
  writeKey: process.env.WRITE_KEY,
  host: process.env.KERVAN_HOST,
  flushAt: 20,
  maxRetries: 2,
})
const errors = []
analytics.on('error', (err) => errors.push(String(err.reason || err.code || err)))
const run = process.env.RUN
const userId = 'node-1001'
const anonymousId = `${run}-visitor`

analytics.page({ anonymousId, name: 'Home', category: 'Shop', properties: { path: '/' }, messageId: `${run}-page` })
analytics.track({
  anonymousId,
  event: 'Product Viewed',
  properties: { product_id: 'p-1', sku: 'SKU-1', price: 349.9, currency: 'TRY' },
  messageId: `${run}-viewed`,
})
analytics.alias({ previousId: anonymousId, userId, messageId: `${run}-alias` })
analytics.identify({
  userId,
  traits: { email: 'node@example.com', firstName: 'Deniz', lastName: 'Node' },
  messageId: `${run}-identify`,
})
analytics.track({
  userId,
  event: 'Product Added',
  properties: { product_id: 'p-1', quantity: 1 },
  messageId: `${run}-added`,
})
analytics.track({ userId, event: 'Checkout Started', properties: { revenue: 349.9 }, messageId: `${run}-checkout` })
analytics.track({
  userId,
  event: 'Order Completed',
  properties: { order_id: 'N-1', revenue: 349.9, currency: 'TRY', products: [{ product_id: 'p-1', quantity: 1 }] },
  messageId: `${run}-order`,
})
await analytics.closeAndFlush({ timeout: 10000 })
if (errors.length) {
  console.error(JSON.stringify(errors))
  process.exit(1)
}
console.log('sent')
