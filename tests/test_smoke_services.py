def test_placed_order_reserves_stock(placed_order, stocked_product):
    level = stocked_product.stock_levels.get()
    assert level.on_hand == 10
    assert level.reserved == 2
    assert placed_order.fulfillment_status == "reserved"
